import { type Connection, Schema } from 'mongoose';

/**
 * Every verified Stripe event, stored once by its id, with where its processing stands. It is
 * also the event's job in the `stripe-events` queue (src/infra/jobs.ts): `received` waits to be
 * applied, `applying` is held by a worker, `failed` ran out of attempts; `applied`, `ignored`
 * (nothing to do) and `pending` (a checkout still waiting for its payment) are done. The payload
 * lives apart (StripeEventPayload, written once, never changed) so that each status change
 * rewrites a small document.
 */
/** The job queue that applies stored events (src/infra/jobs.ts); its jobs are the stored events. */
export const STRIPE_EVENT_QUEUE = 'stripe-events';

export interface StoredStripeEvent {
  _id: string; // evt_…
  type: string;
  created: number; // Stripe's seconds
  livemode: boolean;
  status: 'received' | 'applying' | 'applied' | 'ignored' | 'pending' | 'failed';
  attempts: number;
  /** The queue's lease chain position and next try (src/infra/jobs.ts). */
  claimSeq: number;
  nextAttemptAt: Date;
  lastError?: string;
  receivedAt: Date;
  appliedAt?: Date;
}

/** event.data.object as Stripe sent it: what replay rebuilds state from. */
export interface StripeEventPayload {
  _id: string; // the event id
  object: Record<string, unknown>;
}

const storedStripeEventSchema = new Schema<StoredStripeEvent>(
  {
    _id: String,
    type: { type: String, required: true },
    created: { type: Number, required: true, index: true },
    livemode: { type: Boolean, required: true },
    status: { type: String, required: true },
    attempts: { type: Number, required: true, default: 0 },
    claimSeq: { type: Number, default: 0 },
    nextAttemptAt: Date,
    lastError: String,
    receivedAt: { type: Date, required: true },
    appliedAt: Date,
  },
  { versionKey: false },
);

const payloadSchema = new Schema<StripeEventPayload>(
  { _id: String, object: { type: Schema.Types.Mixed, required: true } },
  { versionKey: false, minimize: false },
);

export function registerStripeEventModel(db: Connection): void {
  if (!db.models.StripeEvent) db.model('StripeEvent', storedStripeEventSchema, 'stripe_events');
  if (!db.models.StripeEventPayload) db.model('StripeEventPayload', payloadSchema, 'stripe_event_payloads');
}

export const stripeEventModel = (db: Connection) => db.model<StoredStripeEvent>('StripeEvent');
export const stripeEventPayloadModel = (db: Connection) => db.model<StripeEventPayload>('StripeEventPayload');
