import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import type Stripe from 'stripe';
import { createStripeEventQueue } from '../webhooks/stripe-events.service.js';
import { signDueCheckpoints } from './campaigns/drive-log/checkpoint.service.js';
import { createSigner } from './campaigns/drive-log/signing.js';
import { webhookDepsFrom, wireCapabilities } from './capabilities.js';
import type { Config } from './config/config.js';
import { createWorkerFromConfig } from './email/email.setup.js';
import { deliverDueGifts, sweepGifts } from './gifts/gift.service.js';
import { giftDepsFrom } from './gifts/gift-deps.js';
import type { Clock } from './infra/clock.js';
import { createJobRunner, type JobRunner, type PeriodicTask, registerJobMetrics } from './infra/jobs.js';
import type { Logger } from './infra/logger.js';
import { settleUnsettledEntries } from './ledger/settlement.service.js';
import { createMarketingSyncWorker } from './newsletters/marketing-sync.js';
import { sweepExpiredRecords } from './retention/retention.service.js';
import type { DomainEvents } from './shared/domain-events.js';

const MINUTE = 60_000;

/**
 * The background work a process runs, all through the one job runner (src/infra/jobs.ts):
 * applying stored Stripe events, queued email and SendGrid Marketing changes (leased jobs), and periodic tasks that run once
 * per period across every process: gift delivery, the hourly gift sweep, settling ledger entries
 * whose Stripe fees were not known when they were recorded, the retention sweep, and signing the
 * drive logs' checkpoints (src/transparency/).
 */
export function startBackgroundWork(
  config: Config,
  deps: {
    db: Connection;
    clock: Clock;
    logger: Logger;
    metrics: Registry;
    stripe: Stripe | null;
    events: DomainEvents;
  },
): JobRunner {
  const email = createWorkerFromConfig(config, deps);
  const sync = config.email.sendgridApiKey
    ? createMarketingSyncWorker({
        ...deps,
        apiKey: config.email.sendgridApiKey,
        baseUrl: config.email.sendgridApiUrl,
        leaseMs: config.jobs.leaseMs,
        retryBaseMs: config.jobs.retryBaseMs * 2,
      })
    : undefined;
  const gifts = giftDepsFrom(config, deps);
  const { stripe } = deps;
  const tasks: PeriodicTask[] = [
    { name: 'gift-delivery', everyMs: MINUTE, run: () => deliverDueGifts(gifts) },
    { name: 'gift-sweep', everyMs: 60 * MINUTE, run: () => sweepGifts(gifts) },
    { name: 'retention', everyMs: 60 * MINUTE, run: () => sweepExpiredRecords(deps) },
    {
      name: 'drive-checkpoints',
      everyMs: MINUTE,
      run: () =>
        signDueCheckpoints({
          ...deps,
          signer: createSigner(config.transparency.keys),
          checkpointMs: config.transparency.checkpointMs,
        }),
    },
    ...(stripe
      ? [{ name: 'settlement', everyMs: 10 * MINUTE, run: () => settleUnsettledEntries({ ...deps, stripe }) }]
      : []),
  ];
  // Stripe events stored by any web process: applied here right after they arrive when this is
  // that process (EMAIL_WORKER=inline), else at the next poll, and retried here when they fail.
  wireCapabilities(config, deps);
  const stripeEvents = createStripeEventQueue({
    ...webhookDepsFrom(config, deps),
    leaseMs: config.jobs.leaseMs,
    crashAfterClaim: config.jobs.crashAfterClaim,
    metrics: deps.metrics,
  });
  const queues = [stripeEvents, email.queue, ...(sync ? [sync.queue] : [])];
  registerJobMetrics(deps.metrics, deps.clock, queues);
  const runner = createJobRunner({ ...deps, queues, tasks });
  runner.start();
  return runner;
}
