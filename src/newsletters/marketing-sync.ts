import { Client } from '@sendgrid/client';
import type { Connection } from 'mongoose';
import { claimOnce } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import type { NewsletterList } from './lists.js';
import { type MarketingSyncJob, marketingSyncModel } from './marketing-sync.model.js';

// Confirmed subscribers live in SendGrid Marketing lists, where the newsletters are sent from.
// Changes go through jobs like the email outbox: written with the change, retried with backoff,
// idempotent (adding is an upsert; removing what is not there is fine), one worker per attempt.

export async function enqueueMarketingSync(
  deps: { db: Connection; clock: Clock; lists: NewsletterList[] },
  change: { email: string; name?: string; list: string; action: 'add' | 'remove'; at: Date },
): Promise<void> {
  const listId = deps.lists.find((l) => l.slug === change.list)?.sendgridListId;
  if (!listId) return; // this list is not synced
  try {
    await marketingSyncModel(deps.db).create({
      key: `${change.action}:${change.list}:${change.email}:${change.at.getTime()}`,
      email: change.email,
      name: change.name,
      listId,
      action: change.action,
      status: 'pending',
      nextAttemptAt: deps.clock.now(),
    });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

interface SyncError {
  code?: number;
  response?: { headers?: Record<string, string> };
}

export function createMarketingSyncWorker(options: {
  db: Connection;
  clock: Clock;
  logger: Logger;
  apiKey: string;
  baseUrl?: string;
  maxAttempts?: number;
  retryBaseMs?: number;
}) {
  const { db, clock, maxAttempts = 8, retryBaseMs = 60_000 } = options;
  const client = new Client();
  client.setApiKey(options.apiKey);
  if (options.baseUrl) client.setDefaultRequest('baseUrl', options.baseUrl);
  const Jobs = marketingSyncModel(db);
  const logger = options.logger.child({ component: 'marketing-sync' });

  async function apply(job: MarketingSyncJob): Promise<void> {
    if (job.action === 'add') {
      await client.request({
        method: 'PUT',
        url: '/v3/marketing/contacts',
        body: {
          list_ids: [job.listId],
          contacts: [{ email: job.email, ...(job.name ? { first_name: job.name } : {}) }],
        },
      });
      return;
    }
    let contactId: string | undefined;
    try {
      const [found] = await client.request({
        method: 'POST',
        url: '/v3/marketing/contacts/search/emails',
        body: { emails: [job.email] },
      });
      contactId = (found.body as { result?: Record<string, { contact?: { id?: string } }> }).result?.[
        job.email
      ]?.contact?.id;
    } catch (error) {
      if ((error as SyncError).code !== 404) throw error; // 404: SendGrid has no such contact
    }
    if (!contactId) return;
    await client.request({
      method: 'DELETE',
      url: `/v3/marketing/lists/${job.listId}/contacts`,
      qs: { contact_ids: contactId },
    });
  }

  async function runOnce(): Promise<boolean> {
    const now = clock.now();
    const due = await Jobs.find({ status: 'pending', nextAttemptAt: { $lte: now } })
      .sort({ nextAttemptAt: 1 })
      .limit(20)
      .lean();
    for (const candidate of due) {
      if (!(await claimOnce(db, `marketing-sync:${candidate._id}:${candidate.claimSeq}`, now))) continue;
      const attempts = candidate.attempts + 1;
      try {
        await apply(candidate);
        await Jobs.updateOne(
          { _id: candidate._id },
          { $set: { status: 'done', attempts }, $inc: { claimSeq: 1 } },
        );
      } catch (error) {
        const status = (error as SyncError).code;
        const retryable = status === undefined || status === 429 || status >= 500;
        const message = status ? `SendGrid ${status}` : String((error as Error).message);
        const giveUp = !retryable || attempts >= maxAttempts;
        await Jobs.updateOne(
          { _id: candidate._id },
          {
            $set: {
              status: giveUp ? 'failed' : 'pending',
              attempts,
              lastError: message,
              nextAttemptAt: new Date(now.getTime() + retryBaseMs * 2 ** (attempts - 1)),
            },
            $inc: { claimSeq: 1 },
          },
        );
        logger.warn(
          { jobId: String(candidate._id), attempts, error: message, giveUp },
          'marketing sync failed',
        );
      }
      return true;
    }
    return false;
  }

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    runOnce,
    async drain() {
      let n = 0;
      while (await runOnce()) n++;
      return n;
    },
    start(pollMs = 5_000) {
      const loop = async () => {
        try {
          while (!stopped && (await runOnce()));
        } catch (error) {
          logger.error({ err: error }, 'marketing sync poll failed');
        }
        if (!stopped) timer = setTimeout(loop, pollMs).unref();
      };
      void loop();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
