import type Stripe from 'stripe';
import { isDuplicateKey } from '../src/infra/db.js';
import type { Outcome } from '../src/memberships/membership.service.js';
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
): Promise<{ duplicate: boolean; outcome: Outcome | 'unhandled' }> {
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
    if (stored && stored.status !== 'received' && stored.status !== 'failed') {
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
  try {
    const outcome = await handler(deps, {
      id: event.id,
      type: event.type,
      created: event.created,
      object: event.data.object,
    });
    await StripeEvent.updateOne(
      { _id: event.id },
      {
        $set: { status: outcome, appliedAt: deps.clock.now() },
        $inc: { attempts: 1 },
        $unset: { lastError: 1 },
      },
    );
    return { duplicate: false, outcome };
  } catch (error) {
    await StripeEvent.updateOne(
      { _id: event.id },
      {
        $set: { status: 'failed', lastError: String((error as Error).message).slice(0, 500) },
        $inc: { attempts: 1 },
      },
    );
    throw error;
  }
}
