import type Stripe from 'stripe';
import { isDuplicateKey } from '../src/infra/db.js';
import { type Outcome, WaitsForPayment } from '../src/memberships/membership.service.js';
import { eventsWaitingFor, parkEvent, paymentIdsNamedBy } from './parked-events.js';
import { stripeEventModel, stripeEventPayloadModel } from './stripe-event.model.js';
import { STRIPE_EVENT_HANDLERS, type StripeEventHandler, type WebhookDeps } from './stripe-handlers.js';

export type HandlerTable = Record<string, StripeEventHandler>;

/**
 * Stores a verified event once (its id is the key), then applies it. A duplicate of an event
 * already applied is acknowledged without effect; a duplicate of one that failed or is still in
 * flight is applied again, which is safe because every effect is keyed by the Stripe object it
 * records. A failure is recorded on the stored event and rethrown, so Stripe retries.
 */
export async function receiveStripeEvent(
  deps: WebhookDeps,
  event: Stripe.Event,
  handlers: HandlerTable = STRIPE_EVENT_HANDLERS,
): Promise<{ duplicate: boolean; outcome: Applied | 'unhandled' }> {
  const StripeEvent = stripeEventModel(deps.db);
  try {
    // Payload first: an event record never exists without what replay needs to rebuild from.
    await stripeEventPayloadModel(deps.db)
      .create({ _id: event.id, object: event.data.object as unknown as Record<string, unknown> })
      .catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error;
      });
    await StripeEvent.create({
      _id: event.id,
      type: event.type,
      created: event.created,
      livemode: event.livemode,
      status: 'received',
      attempts: 0,
      receivedAt: deps.clock.now(),
    });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    const stored = await StripeEvent.findById(event.id).select({ status: 1 }).lean();
    // Received (in flight or crashed), failed and parked events are applied again; the rest are done.
    if (stored && !['received', 'failed', 'parked'].includes(stored.status)) {
      // Sent again because our answer was lost or a 5xx: what waited for its payment may not have
      // been released (the database went away in between). Releasing twice changes nothing.
      if (stored.status === 'applied') await releaseWaiting(deps, event.data.object, handlers);
      return { duplicate: true, outcome: stored.status === 'pending' ? 'pending' : 'applied' };
    }
  }

  const handler = handlers[event.type];
  if (!handler) {
    await StripeEvent.updateOne(
      { _id: event.id },
      { $set: { status: 'ignored', appliedAt: deps.clock.now() } },
    );
    return { duplicate: false, outcome: 'unhandled' };
  }
  const applied = await applyStored(deps, event.id, event.type, event.created, event.data.object, handlers);
  if (applied === 'applied') {
    try {
      await releaseWaiting(deps, event.data.object, handlers);
    } catch (error) {
      // Answered 5xx so Stripe sends this event again, and the waiting ones get another chance.
      await StripeEvent.updateOne(
        { _id: event.id },
        {
          $set: {
            status: 'failed',
            lastError: `releasing waiting events: ${(error as Error).message}`.slice(0, 500),
          },
        },
      );
      throw error;
    }
  }
  return { duplicate: false, outcome: applied };
}

type Applied = Outcome | 'parked';

/**
 * Runs the event's handler and records how it went. A refund or dispute whose payment is not
 * recorded yet is parked (parked-events.ts) and answered 2xx; any other failure is recorded and
 * rethrown, so Stripe retries.
 */
async function applyStored(
  deps: WebhookDeps,
  id: string,
  type: string,
  created: number,
  object: unknown,
  handlers: HandlerTable,
): Promise<Applied> {
  const StripeEvent = stripeEventModel(deps.db);
  const run = () =>
    handlers[type]!(deps, { id, type, created, object: object as Stripe.Event.Data['object'] });
  let outcome: Outcome;
  try {
    try {
      outcome = await run();
    } catch (error) {
      if (!(error instanceof WaitsForPayment)) throw error;
      await parkEvent(deps.db, error.paymentIds, id);
      // Once more, now that it is parked: a payment recorded meanwhile released before this was
      // parked, so it would otherwise wait for good.
      outcome = await run();
    }
  } catch (error) {
    if (error instanceof WaitsForPayment) {
      await StripeEvent.updateOne(
        { _id: id },
        { $set: { status: 'parked', lastError: error.message.slice(0, 500) }, $inc: { attempts: 1 } },
      );
      return 'parked';
    }
    await StripeEvent.updateOne(
      { _id: id },
      {
        $set: { status: 'failed', lastError: String((error as Error).message).slice(0, 500) },
        $inc: { attempts: 1 },
      },
    );
    throw error;
  }
  await StripeEvent.updateOne(
    { _id: id },
    {
      $set: { status: outcome, appliedAt: deps.clock.now() },
      $inc: { attempts: 1 },
      $unset: { lastError: 1 },
    },
  );
  return outcome;
}

/**
 * After an event that may record a payment, the refunds and disputes that waited for it are
 * applied. A failure here fails the event that was just applied (it is applied again when Stripe
 * retries it, which is safe), so nothing stays parked behind a database hiccup.
 */
async function releaseWaiting(deps: WebhookDeps, object: unknown, handlers: HandlerTable): Promise<void> {
  const paymentIds = paymentIdsNamedBy(object);
  if (paymentIds.length === 0) return;
  for (const eventId of await eventsWaitingFor(deps.db, paymentIds)) {
    const stored = await stripeEventModel(deps.db).findById(eventId).lean();
    if (stored?.status !== 'parked' && stored?.status !== 'failed') continue;
    const payload = await stripeEventPayloadModel(deps.db).findById(eventId).lean();
    if (!payload) continue;
    await applyStored(deps, eventId, stored.type, stored.created, payload.object, handlers);
  }
}
