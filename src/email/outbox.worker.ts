import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import type { Clock } from '../infra/clock.js';
import { createJobQueue, JobFailure } from '../infra/jobs/queue.js';
import { type SoloWorker, soloWorker } from '../infra/jobs/runner.js';
import type { Logger } from '../infra/logger.js';
import { counter } from '../infra/metrics.js';
import { EMAIL_TEMPLATES, type TemplateName } from './catalog.js';
import { EMAIL_QUEUE, type EmailJob, emailModels } from './email.model.js';
import type { EmailRenderer } from './renderer.js';
import { type EmailSender, SendFailure } from './sender.js';
import { suppressionBlocking } from './suppression.service.js';

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
  /** Fault injection (config JOB_FAULT): die right after taking a job, before sending it. */
  crashAfterClaim?: boolean;
}

/** The outbox's queue (run by the one job runner, src/infra/jobs/) and a runner of its own. */
export type OutboxWorker = SoloWorker;

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
  const logger = options.logger.child({ component: 'outbox-worker' });
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

  /** One attempt at one job; returns the outcome to store, or throws a JobFailure to retry. */
  async function deliver(job: EmailJob): Promise<Record<string, unknown>> {
    const jobId = String(job._id);
    const blockedBy = await suppressionBlocking(db, job.to.email, job.kind);
    if (blockedBy) {
      suppressed.inc();
      logger.info({ jobId, template: job.template, reason: blockedBy }, 'email suppressed');
      return { status: 'suppressed', lastError: `address suppressed (${blockedBy})` };
    }

    let rendered: ReturnType<EmailRenderer['render']>;
    try {
      rendered = renderer.render(job.template as TemplateName, job.locale, job.data, {
        unsubscribeUrl: job.listUnsubscribeUrl ?? undefined,
      });
    } catch (error) {
      failed.inc();
      logger.error({ jobId, template: job.template, err: error }, 'email template failed to render');
      return { status: 'failed', lastError: `template failed to render: ${(error as Error).message}` };
    }

    const headers: Record<string, string> = {};
    if (job.listUnsubscribeUrl) {
      headers['List-Unsubscribe'] = `<${job.listUnsubscribeUrl}>`;
      headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
    }

    let result: { providerMessageId?: string };
    try {
      result = await sender.send({
        jobId,
        to: { email: job.to.email, name: job.to.name ?? undefined },
        from: options.from,
        replyTo: options.replyTo,
        ...rendered,
        headers,
        category: job.template,
      });
    } catch (error) {
      const failure = error instanceof SendFailure ? error : new SendFailure(String(error), true);
      // A 429 asks every worker to wait, not just this job: the queue pauses (src/infra/jobs/attempt.ts).
      throw new JobFailure(failure.message, failure.retryable, failure.retryAfterMs, failure.status === 429);
    }
    sent.inc();
    const secrets =
      (EMAIL_TEMPLATES[job.template as TemplateName] as { secretFields?: string[] }).secretFields ?? [];
    return {
      status: 'sent',
      sentAt: clock.now(),
      providerMessageId: result.providerMessageId,
      // The message is delivered; a copy of a secret it carried has no reason to stay.
      ...Object.fromEntries(secrets.map((field) => [`data.${field}`, '[sent]'])),
    };
  }

  const queue = createJobQueue<EmailJob>({
    name: EMAIL_QUEUE,
    db,
    model: EmailJob,
    clock,
    logger: options.logger,
    activeStatus: 'sending',
    handle: deliver,
    leaseMs,
    maxAttempts,
    retryBaseMs,
    retryMaxMs,
    concurrency,
    random,
    crashAfterClaim: options.crashAfterClaim,
    onRetry(job, failure, delay) {
      retried.inc();
      logger.warn(
        { jobId: String(job._id), attempts: job.attempts, retryInMs: delay, error: failure.message },
        'email send failed; will retry',
      );
    },
    onFailed(job, failure) {
      failed.inc();
      logger.error(
        { jobId: String(job._id), attempts: job.attempts, error: failure.message },
        'email send failed; giving up',
      );
    },
  });
  return soloWorker(queue, { db, clock, logger: options.logger, pollIntervalMs });
}
