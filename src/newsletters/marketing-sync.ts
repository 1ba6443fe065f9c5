import { Client } from '@sendgrid/client';
import type { Connection } from 'mongoose';
import { listAtAddress } from '../email/address-records.js';
import { retryAfterMs } from '../email/senders/sendgrid.sender.js';
import type { Clock } from '../infra/clock.js';
import { insertJob, jobIdFor } from '../infra/due.js';
import { createJobQueue, JobFailure } from '../infra/jobs/queue.js';
import { soloWorker } from '../infra/jobs/runner.js';
import type { Logger } from '../infra/logger.js';
import type { NewsletterList } from './lists.js';
import { MARKETING_SYNC_QUEUE, type MarketingSyncJob, marketingSyncModel } from './marketing-sync.model.js';

// Confirmed subscribers live in SendGrid Marketing lists, where the newsletters are sent from.
// Changes go through jobs like the email outbox: written with the change, retried with backoff,
// idempotent (adding is an upsert; removing what is not there is fine), one worker per attempt,
// run by the one job runner (src/infra/jobs/) under a lease.

export async function enqueueMarketingSync(
  deps: { db: Connection; clock: Clock; lists: NewsletterList[] },
  change: { email: string; name?: string; list: string; action: 'add' | 'remove'; at: Date },
): Promise<void> {
  const listId = deps.lists.find((l) => l.slug === change.list)?.sendgridListId;
  if (!listId) return; // this list is not synced
  const key = `${change.action}:${change.list}:${change.email}:${change.at.getTime()}`;
  await listAtAddress(deps.db, change.email, [{ kind: 'sync-job', ref: String(jobIdFor(key)) }]);
  await insertJob(deps.db, MARKETING_SYNC_QUEUE, marketingSyncModel(deps.db), key, {
    key,
    email: change.email,
    name: change.name,
    listId,
    action: change.action,
    status: 'pending',
    attempts: 0,
    claimSeq: 0,
    nextAttemptAt: deps.clock.now(),
  });
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
  leaseMs?: number;
}) {
  const { db, clock, maxAttempts = 8, retryBaseMs = 60_000, leaseMs = 60_000 } = options;
  const client = new Client();
  client.setApiKey(options.apiKey);
  if (options.baseUrl) client.setDefaultRequest('baseUrl', options.baseUrl);
  // A request must end well inside the lease, or another worker could take the job meanwhile.
  // (The client honours `timeout` as @sendgrid/mail's setTimeout does; its typings omit it.)
  client.setDefaultRequest('timeout' as 'method', Math.min(20_000, Math.floor(leaseMs / 3)) as never);
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

  const queue = createJobQueue<MarketingSyncJob>({
    name: MARKETING_SYNC_QUEUE,
    db,
    model: Jobs,
    clock,
    logger: options.logger,
    activeStatus: 'running',
    leaseMs,
    maxAttempts,
    retryBaseMs,
    concurrency: 1,
    async handle(job) {
      try {
        await apply(job);
      } catch (error) {
        const status = (error as SyncError).code;
        const retryable = status === undefined || status === 429 || status >= 500;
        const message = status ? `SendGrid ${status}` : String((error as Error).message);
        const headers = (error as SyncError).response?.headers ?? {};
        logger.warn(
          { jobId: String(job._id), attempts: job.attempts, error: message },
          'marketing sync failed',
        );
        throw new JobFailure(message, retryable, retryAfterMs(headers, clock.now()), status === 429);
      }
      return { status: 'done' };
    },
  });
  return soloWorker(queue, { db, clock, logger: options.logger, pollIntervalMs: 5_000 });
}
