import type { Connection } from 'mongoose';
import { AppError } from '../http/errors.js';
import type { Clock } from '../infra/clock.js';
import { insertJob } from '../infra/due.js';
import type { DomainEventMap, DomainEvents } from '../shared/domain-events.js';
import { slackBodyOf } from './slack.js';
import {
  WEBHOOK_QUEUE,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  webhookModels,
} from './webhook.model.js';
import {
  bodyOf,
  messageOf,
  WEBHOOK_EVENT_TYPES,
  type WebhookEventType,
  type WebhookMessage,
  webhookIdOf,
} from './webhook-events.js';

// From a domain event to delivery jobs: one job per (message, endpoint), its id derived from
// both, so an event published again (retried Stripe deliveries do) finds its jobs already there
// and costs inserts that fail, nothing more. Delivery itself is delivery.worker.ts.

export interface EnqueueDeps {
  db: Connection;
  clock: Clock;
}

/** Queues the message for every enabled endpoint that chose its type; returns how many jobs are new. */
export async function enqueueMessage(deps: EnqueueDeps, message: WebhookMessage): Promise<number> {
  // A scan, of a collection of a few admin-made rows.
  const endpoints = await webhookModels(deps.db)
    .Endpoint.find({ enabled: true, events: message.type })
    .select({ _id: 1, kind: 1 })
    .lean<Pick<WebhookEndpoint, '_id' | 'kind'>[]>();
  if (endpoints.length === 0) return 0;
  const webhookId = webhookIdOf(message);
  let created = 0;
  for (const endpoint of endpoints) {
    // A Slack endpoint gets Slack's body (slack.ts); every other one our versioned payload.
    const body = endpoint.kind === 'slack' ? slackBodyOf(message) : bodyOf(message);
    const key = `webhook:${webhookId}:${endpoint._id}`;
    const result = await insertJob(deps.db, WEBHOOK_QUEUE, webhookModels(deps.db).Delivery, key, {
      key,
      endpointId: endpoint._id,
      webhookId,
      eventType: message.type,
      body,
      status: 'pending',
      attempts: 0,
      claimSeq: 0,
      nextAttemptAt: deps.clock.now(),
    });
    if (result.created) created++;
  }
  return created;
}

/** Hears every domain event that is a webhook event type and queues its deliveries. */
export function subscribeWebhooks(events: DomainEvents, deps: EnqueueDeps): void {
  for (const type of WEBHOOK_EVENT_TYPES) {
    events.on(type, async (event: DomainEventMap[WebhookEventType]) => {
      await enqueueMessage(deps, await messageOf(type, event as never, deps.db));
    });
  }
}

/** A person asked to send a delivery again: a new job with the same body and `webhook-id`. */
export async function redeliver(deps: EnqueueDeps, deliveryId: string): Promise<WebhookDelivery> {
  const { Delivery, Endpoint } = webhookModels(deps.db);
  const original = /^[0-9a-f]{24}$/.test(deliveryId)
    ? await Delivery.findById(deliveryId).lean<WebhookDelivery>()
    : null;
  if (!original) throw new AppError('not_found', 'There is no webhook delivery with this id.');
  if (!(await Endpoint.exists({ _id: original.endpointId })))
    throw new AppError('conflict', 'The endpoint of this delivery was deleted.');
  const key = `redeliver:${deliveryId}:${deps.clock.now().getTime()}`;
  const { jobId } = await insertJob(deps.db, WEBHOOK_QUEUE, Delivery, key, {
    key,
    endpointId: original.endpointId,
    webhookId: original.webhookId,
    eventType: original.eventType,
    body: original.body,
    status: 'pending',
    attempts: 0,
    claimSeq: 0,
    nextAttemptAt: deps.clock.now(),
    redeliveryOf: deliveryId,
  });
  return (await Delivery.findById(jobId).lean<WebhookDelivery>())!;
}

export function deliveryView(delivery: WebhookDelivery, attempts: WebhookAttempt[]) {
  return {
    id: String(delivery._id),
    endpointId: delivery.endpointId,
    webhookId: delivery.webhookId,
    eventType: delivery.eventType,
    status: delivery.status,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      at: a.at,
      ok: a.ok,
      status: a.status ?? null,
      durationMs: a.durationMs,
      error: a.error ?? null,
    })),
    nextAttemptAt: delivery.status === 'pending' ? delivery.nextAttemptAt : null,
    deliveredAt: delivery.deliveredAt ?? null,
    lastError: delivery.lastError ?? null,
    redeliveryOf: delivery.redeliveryOf ?? null,
    createdAt: delivery.createdAt,
  };
}

/** An endpoint's newest deliveries with their attempts (a scan of the deliveries: admin pace). */
export async function listDeliveries(db: Connection, endpointId: string, limit: number) {
  const { Delivery, Attempt } = webhookModels(db);
  const deliveries = await Delivery.find({ endpointId })
    .sort({ createdAt: -1 })
    .limit(limit)
    .lean<WebhookDelivery[]>();
  return Promise.all(
    deliveries.map(async (delivery) => {
      // Attempts by primary key, one read each (`$in` would scan every attempt ever made).
      const ids = Array.from({ length: delivery.attempts }, (_, i) => `${delivery._id}:${i + 1}`);
      const attempts = await Promise.all(ids.map((id) => Attempt.findById(id).lean<WebhookAttempt>()));
      return deliveryView(
        delivery,
        attempts.filter((a): a is WebhookAttempt => a !== null),
      );
    }),
  );
}
