import type { Registry } from 'prom-client';
import type Stripe from 'stripe';
import { insertUnlessPresent } from '../src/infra/db.js';
import { markDue, markDueWithJob } from '../src/infra/due.js';
import { createJobQueue, type JobQueue } from '../src/infra/jobs/queue.js';
import { counter } from '../src/infra/metrics.js';
import {
  payloadOf,
  STRIPE_EVENT_QUEUE,
  type StoredStripeEvent,
  stripeEventModel,
} from './stripe-event.model.js';
import {
  handlerFor,
  STRIPE_EVENT_HANDLERS,
  type StripeEventHandler,
  type WebhookDeps,
} from './stripe-handlers.js';

export type HandlerTable = Record<string, StripeEventHandler>;

export type Receipt = { duplicate: boolean; outcome: 'queued' | 'ignored' };

/**
 * Queues a verified event (its id is the key); the caller answers Stripe 200 as soon as this
 * returns. Applying happens in the `stripe-events` queue, so a slow or failing effect (a refund
 * that arrives before its payment) is retried by us with back-off instead of holding Stripe's
 * connection or answering 500: Stripe asks endpoints to answer before "complex logic".
 *
 * Ingest is one insert, whatever the event does: the event's due marker, carrying the event
 * (src/infra/due.ts). The queue stores it in `stripe_events` when it first meets the marker, and
 * settles a delivery of an event it already has there: an applied one is left as it is, one we
 * gave up on starts over (staff resending it from the Dashboard). So `duplicate` says only that
 * the event was still waiting. If the insert fails, Stripe gets an error and sends the event again.
 */
export async function storeStripeEvent(
  deps: WebhookDeps,
  event: Stripe.Event,
  handlers: HandlerTable = STRIPE_EVENT_HANDLERS,
): Promise<Receipt> {
  const now = deps.clock.now();
  // A type nobody handles is recorded as done: it needs no queue.
  const handled = handlerFor(handlers, event.type) !== undefined;
  const record: StoredStripeEvent = {
    _id: event.id,
    payload: JSON.stringify(event.data.object),
    type: event.type,
    created: event.created,
    livemode: event.livemode,
    status: handled ? 'received' : 'ignored',
    attempts: 0,
    claimSeq: 0,
    nextAttemptAt: now,
    receivedAt: now,
    ...(handled ? {} : { appliedAt: now }),
  };
  const events = stripeEventModel(deps.db).collection;
  if (!handled) return { duplicate: !(await insertUnlessPresent(events, record)), outcome: 'ignored' };
  if (await markDueWithJob(deps.db, STRIPE_EVENT_QUEUE, record))
    return { duplicate: false, outcome: 'queued' };
  // Its marker is there already: usually carrying it, but it may be a bare one, left by an older
  // version whose ingest stored the event apart and died in between, which the queue would remove
  // as an orphan. Store the event as the queue would, then mark it again in case a worker just did.
  await insertUnlessPresent(events, record);
  await markDue(deps.db, STRIPE_EVENT_QUEUE, [event.id], now);
  return { duplicate: true, outcome: 'queued' };
}

/** Applies one stored event: its payload through the handler table. */
async function applyStoredEvent(
  deps: WebhookDeps,
  handlers: HandlerTable,
  event: StoredStripeEvent,
): Promise<Record<string, unknown>> {
  const handler = handlerFor(handlers, event.type);
  if (!handler) return { status: 'ignored', appliedAt: deps.clock.now() };
  const outcome = await handler(deps, {
    id: event._id,
    type: event.type,
    created: event.created,
    object: await payloadOf(deps.db, event),
  });
  return { status: outcome, appliedAt: deps.clock.now() };
}

/**
 * The queue that applies stored events. Every effect is keyed by the Stripe object it records, so
 * an event applied twice (a worker that died after applying, before settling) changes nothing the
 * second time. The first retries come quickly: the usual failure is an event that came before the
 * one it depends on, which Stripe sends within seconds; then back-off to hourly, for about three days.
 */
export function createStripeEventQueue(
  deps: WebhookDeps & {
    leaseMs?: number;
    crashAfterClaim?: boolean;
    metrics?: Registry;
    concurrency?: number;
  },
  handlers: HandlerTable = STRIPE_EVENT_HANDLERS,
): JobQueue {
  const logger = deps.logger.child({ component: 'stripe-events' });
  const failed =
    deps.metrics &&
    counter(deps.metrics, 'stripe_events_failed_total', 'Stripe events given up on after every retry');
  return createJobQueue<StoredStripeEvent>({
    name: STRIPE_EVENT_QUEUE,
    db: deps.db,
    model: stripeEventModel(deps.db),
    clock: deps.clock,
    logger: deps.logger,
    queuedStatus: 'received',
    activeStatus: 'applying',
    failedStatus: 'failed',
    leaseMs: deps.leaseMs ?? 60_000,
    crashAfterClaim: deps.crashAfterClaim,
    concurrency: deps.concurrency,
    retryBaseMs: 2_000,
    retryMaxMs: 60 * 60_000,
    maxAttempts: 100, // about three days, as long as Stripe itself retries a delivery
    handle: (event) => applyStoredEvent(deps, handlers, event),
    onRetry: (event, failure, delayMs) =>
      logger.warn(
        { eventId: event._id, type: event.type, attempts: event.attempts, delayMs, err: failure.message },
        'applying a stripe event failed; trying again',
      ),
    onFailed: (event, failure) => {
      failed?.inc();
      logger.error(
        { eventId: event._id, type: event.type, attempts: event.attempts, err: failure.message },
        'applying a stripe event failed for good; fix the cause, then resend the event from the Stripe Dashboard',
      );
    },
  });
}
