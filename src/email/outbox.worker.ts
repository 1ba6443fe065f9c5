import { randomUUID } from 'node:crypto';
import type { Connection, Types } from 'mongoose';
import type { Registry } from 'prom-client';
import { claimOnce, sweepClaims } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import { counter } from '../infra/metrics.js';
import { EMAIL_TEMPLATES, type TemplateName } from './catalog.js';
import { type EmailJob, emailModels } from './email.model.js';
import type { EmailRenderer } from './renderer.js';
import { type EmailSender, SendFailure } from './sender.js';
import { suppressionBlocking } from './suppression.service.js';

const CANDIDATES = 20;
const BATCH_PER_LANE = 16;
const CLAIM_PREFIX = 'email-job:';
const DAY_MS = 24 * 60 * 60 * 1000;

export interface OutboxWorkerOptions {
  db: Connection;
  sender: EmailSender;
  renderer: EmailRenderer;
  clock: Clock;
  logger: Logger;
  metrics: Registry;
  from: { email: string; name: string };
  replyTo?: string;
  /** How long a claimed job is ours; a worker that dies mid-send loses it after this. */
  leaseMs?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  concurrency?: number;
  pollIntervalMs?: number;
  random?: () => number;
}

export interface OutboxWorker {
  /** Claims and processes one due job; false when none was due. */
  runOnce(): Promise<boolean>;
  /** Processes due jobs until none is left; returns how many were processed. */
  drain(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

export function createOutboxWorker(options: OutboxWorkerOptions): OutboxWorker {
  const {
    db,
    sender,
    renderer,
    clock,
    metrics,
    leaseMs = 60_000,
    maxAttempts = 8,
    retryBaseMs = 30_000,
    retryMaxMs = 6 * 60 * 60 * 1000,
    concurrency = 4,
    pollIntervalMs = 1_000,
    random = Math.random,
  } = options;
  const { EmailJob } = emailModels(db);
  const workerId = randomUUID().slice(0, 8);
  const logger = options.logger.child({ component: 'outbox-worker', workerId });
  const sent = counter(metrics, 'email_sent_total', 'Emails accepted by the provider');
  const failed = counter(
    metrics,
    'email_failed_total',
    'Emails given up on (final provider error or too many attempts)',
  );
  const retried = counter(
    metrics,
    'email_retried_total',
    'Send attempts that failed and were scheduled again',
  );
  const suppressed = counter(
    metrics,
    'email_suppressed_total',
    'Emails not sent because the address is suppressed',
  );

  /** Due jobs: pending and due, or sending with an expired lease (their worker died). */
  function findDue(now: Date, limit: number) {
    return EmailJob.find({
      $or: [
        { status: 'pending', nextAttemptAt: { $lte: now } },
        { status: 'sending', leaseExpiresAt: { $lte: now } },
      ],
    })
      .sort({ nextAttemptAt: 1 })
      .limit(limit)
      .select({ _id: 1, claimSeq: 1 })
      .lean();
  }

  /**
   * Takes the job for one attempt, or returns null if another worker took it first. The claim
   * sequence number names the claim, so exactly one worker gets each attempt (see claims.ts).
   */
  async function claim(
    candidate: { _id: Types.ObjectId; claimSeq: number },
    now: Date,
  ): Promise<EmailJob | null> {
    if (!(await claimOnce(db, `${CLAIM_PREFIX}${candidate._id}:${candidate.claimSeq}`, now))) return null;
    return EmailJob.findOneAndUpdate(
      { _id: candidate._id, claimSeq: candidate.claimSeq },
      {
        $set: {
          status: 'sending',
          leaseOwner: `${workerId}:${randomUUID()}`,
          leaseExpiresAt: new Date(now.getTime() + leaseMs),
        },
        $inc: { attempts: 1, claimSeq: 1 },
      },
      { returnDocument: 'after' },
    ).lean<EmailJob>();
  }

  /** Applies the outcome only if the lease is still ours: a job someone else took over is theirs. */
  async function settle(job: EmailJob, set: Record<string, unknown>): Promise<boolean> {
    const result = await EmailJob.updateOne(
      { _id: job._id, status: 'sending', leaseOwner: job.leaseOwner },
      { $set: set, $unset: { leaseOwner: 1, leaseExpiresAt: 1 } },
    );
    return result.modifiedCount === 1;
  }

  function backoffMs(attempts: number): number {
    // Exponential with "equal jitter": half fixed, half random, so delays still grow every attempt.
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** (attempts - 1));
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  }

  async function deliver(job: EmailJob): Promise<void> {
    const jobId = String(job._id);
    const blockedBy = await suppressionBlocking(db, job.to.email, job.kind);
    if (blockedBy) {
      await settle(job, { status: 'suppressed', lastError: `address suppressed (${blockedBy})` });
      suppressed.inc();
      logger.info({ jobId, template: job.template, reason: blockedBy }, 'email suppressed');
      return;
    }

    let rendered: ReturnType<EmailRenderer['render']>;
    try {
      rendered = renderer.render(job.template as TemplateName, job.locale, job.data, {
        unsubscribeUrl: job.listUnsubscribeUrl ?? undefined,
      });
    } catch (error) {
      await settle(job, {
        status: 'failed',
        lastError: `template failed to render: ${(error as Error).message}`,
      });
      failed.inc();
      logger.error({ jobId, template: job.template, err: error }, 'email template failed to render');
      return;
    }

    const headers: Record<string, string> = {};
    if (job.listUnsubscribeUrl) {
      headers['List-Unsubscribe'] = `<${job.listUnsubscribeUrl}>`;
      headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
    }

    try {
      const result = await sender.send({
        jobId,
        to: { email: job.to.email, name: job.to.name ?? undefined },
        from: options.from,
        replyTo: options.replyTo,
        ...rendered,
        headers,
        category: job.template,
      });
      const secrets =
        (EMAIL_TEMPLATES[job.template as TemplateName] as { secretFields?: string[] }).secretFields ?? [];
      const settled = await settle(job, {
        status: 'sent',
        sentAt: clock.now(),
        providerMessageId: result.providerMessageId,
        // The message is delivered; a copy of a secret it carried has no reason to stay.
        ...Object.fromEntries(secrets.map((field) => [`data.${field}`, '[sent]'])),
      });
      sent.inc();
      if (!settled)
        logger.warn({ jobId }, 'sent after the lease expired; another worker may have sent it too');
    } catch (error) {
      const failure = error instanceof SendFailure ? error : new SendFailure(String(error), true);
      if (failure.retryable && job.attempts < maxAttempts) {
        const delay = Math.max(backoffMs(job.attempts), failure.retryAfterMs ?? 0);
        await settle(job, {
          status: 'pending',
          nextAttemptAt: new Date(clock.now().getTime() + delay),
          lastError: failure.message,
        });
        retried.inc();
        logger.warn(
          { jobId, attempts: job.attempts, retryInMs: delay, error: failure.message },
          'email send failed; will retry',
        );
      } else {
        await settle(job, { status: 'failed', lastError: failure.message });
        failed.inc();
        logger.error(
          { jobId, attempts: job.attempts, error: failure.message },
          'email send failed; giving up',
        );
      }
    }
  }

  async function runOnce(): Promise<boolean> {
    for (;;) {
      const now = clock.now();
      const due = await findDue(now, CANDIDATES);
      if (due.length === 0) return false;
      // Start at a random candidate so concurrent workers rarely contend for the same one.
      const offset = Math.floor(random() * due.length);
      for (let i = 0; i < due.length; i++) {
        const job = await claim(due[(offset + i) % due.length]!, now);
        if (job) {
          await deliver(job);
          return true;
        }
      }
    }
  }

  /** Works through due jobs in batches (one query per batch, not per job) until none is left. */
  async function drain(): Promise<number> {
    let processed = 0;
    for (;;) {
      const now = clock.now();
      const due = await findDue(now, concurrency * BATCH_PER_LANE);
      if (due.length === 0) return processed;
      let next = 0;
      const lane = async () => {
        while (next < due.length) {
          const job = await claim(due[next++]!, now);
          if (job) {
            await deliver(job);
            processed++;
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
    }
  }

  let running: Promise<void> | undefined;
  let stopping = false;
  let wake: (() => void) | undefined;

  return {
    runOnce,
    drain,
    start() {
      if (running) return;
      stopping = false;
      let lastSweep = 0;
      running = (async () => {
        while (!stopping) {
          try {
            if (Date.now() - lastSweep > DAY_MS / 24) {
              lastSweep = Date.now();
              await sweepClaims(db, new Date(clock.now().getTime() - DAY_MS), CLAIM_PREFIX);
            }
            if ((await drain()) > 0) continue;
          } catch (error) {
            logger.error({ err: error }, 'outbox poll failed');
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, pollIntervalMs).unref();
          });
        }
      })();
    },
    async stop() {
      stopping = true;
      wake?.();
      await running;
      running = undefined;
    },
  };
}
