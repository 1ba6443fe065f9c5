import { type Connection, Schema } from 'mongoose';
import { appendSlot, readSlots } from '../src/infra/slots.js';

// Refunds and disputes that arrive before their payment wait here, under every Stripe id that
// names the payment (PaymentIntent, charge, invoice), as append-only slots `<id>#0, #1, …`. When an
// event that names one of those ids is applied, the events waiting under it are applied again
// (stripe-events.service.ts). Lookups are by `_id` only; a charge that is never ours just waits.

interface ParkedEvent {
  _id: string;
  eventId: string;
}

const parkedEventSchema = new Schema<ParkedEvent>(
  { _id: String, eventId: { type: String, required: true } },
  { versionKey: false },
);

export function registerParkedEventModel(db: Connection): void {
  if (!db.models.ParkedStripeEvent) db.model('ParkedStripeEvent', parkedEventSchema, 'parked_stripe_events');
}

const parked = (db: Connection) => db.model<ParkedEvent>('ParkedStripeEvent');

export async function parkEvent(db: Connection, paymentIds: string[], eventId: string): Promise<void> {
  for (const id of paymentIds)
    await appendSlot(parked(db), id, { eventId }, (stored) => stored.eventId === eventId);
}

/** The events waiting for a payment named by any of these ids. */
export async function eventsWaitingFor(db: Connection, paymentIds: string[]): Promise<string[]> {
  const waiting = new Set<string>();
  for (const id of paymentIds) for (const slot of await readSlots(parked(db), id)) waiting.add(slot.eventId);
  return [...waiting];
}

/** The Stripe ids an applied event names that a waiting refund or dispute may be keyed by. */
export function paymentIdsNamedBy(object: unknown): string[] {
  const found = new Set<string>();
  const visit = (value: unknown, depth: number) => {
    if (depth > 4 || value === null || typeof value !== 'object') return;
    for (const [key, v] of Object.entries(value)) {
      if (
        typeof v === 'string' &&
        /^(pi|ch|py|in)_/.test(v) &&
        ['id', 'payment_intent', 'charge', 'latest_charge', 'invoice'].includes(key)
      )
        found.add(v);
      else if (typeof v === 'object') visit(v, depth + 1);
    }
  };
  visit(object, 0);
  return [...found];
}
