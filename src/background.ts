import { createStripeEventQueue } from '../webhooks/stripe-events.service.js';
import { webhookDepsFrom } from '../webhooks/webhooks.capability.js';
import { periodicTasks, wireCapabilities } from './capabilities.js';
import { createWorkerFromConfig } from './email/email.setup.js';
import type { ProcessContext } from './infra/capability.js';
import { registerJobMetrics } from './infra/jobs/metrics.js';
import { createJobRunner, type JobRunner } from './infra/jobs/runner.js';
import { webhookQueueFrom } from './integrations/integrations.capability.js';
import { createMarketingSyncWorker } from './newsletters/marketing-sync.js';

/**
 * The background work a process runs, all through the one job runner (src/infra/jobs/): applying
 * stored Stripe events, queued email and SendGrid Marketing changes (leased jobs), and every
 * capability's periodic tasks (src/capabilities.ts), each run once per period across all processes.
 */
export function startBackgroundWork(ctx: ProcessContext): JobRunner {
  const { config } = ctx;
  const email = createWorkerFromConfig(config, ctx);
  const sync = config.email.sendgridApiKey
    ? createMarketingSyncWorker({
        ...ctx,
        apiKey: config.email.sendgridApiKey,
        baseUrl: config.email.sendgridApiUrl,
        leaseMs: config.jobs.leaseMs,
        retryBaseMs: config.jobs.retryBaseMs * 2,
      })
    : undefined;
  // Stripe events stored by any web process: applied here right after they arrive when this is
  // that process (EMAIL_WORKER=inline), else at the next poll, and retried here when they fail.
  wireCapabilities(ctx);
  const stripeEvents = createStripeEventQueue({
    ...webhookDepsFrom(ctx),
    leaseMs: config.jobs.leaseMs,
    crashAfterClaim: config.jobs.crashAfterClaim,
    metrics: ctx.metrics,
  });
  const queues = [stripeEvents, email.queue, webhookQueueFrom(ctx), ...(sync ? [sync.queue] : [])];
  registerJobMetrics(ctx.metrics, ctx.clock, queues);
  const runner = createJobRunner({ ...ctx, queues, tasks: periodicTasks(ctx) });
  runner.start();
  return runner;
}
