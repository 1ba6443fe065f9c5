import { type Connection, Schema } from 'mongoose';

/** The job queue that applies stored events (src/infra/jobs/); its jobs are the stored events. */
export const STRIPE_EVENT_QUEUE = 'stripe-events';

/** Statuses of an event whose processing is over. */
export const DONE_STATUSES: readonly string[] = ['applied', 'ignored', 'pending'];

/**
 * Every verified Stripe event, stored once by its id with what Stripe sent (`object`, never
 * changed: what applying and replay read) and where its processing stands. It is also the
 * event's job in the `stripe-events` queue (src/infra/jobs/): `received` waits to be applied,
 * `applying` is held by a worker, `failed` ran out of attempts; `applied`, `ignored` (nothing to
 * do) and `pending` (a checkout still waiting for its payment) are done. One document, so that
 * storing an event is one insert beside its due marker.
 */
export interface StoredStripeEvent {
  _id: string; // evt_…
  /**
   * event.data.object as Stripe sent it, as JSON text: Stripe allows metadata keys (the reader's, the
   * Dashboard's) with `.` or `$`, which a document's field names may not have.
   */
  payload?: string;
  /** The same as a document, in events stored before `payload`; older ones have a StripeEventPayload. */
  object?: Record<string, unknown>;
  type: string;
  created: number; // Stripe's seconds
  livemode: boolean;
  status: 'received' | 'applying' | 'applied' | 'ignored' | 'pending' | 'failed';
  attempts: number;
  /** The queue's lease chain position and next try (src/infra/jobs/). */
  claimSeq: number;
  nextAttemptAt: Date;
  lastError?: string;
  receivedAt: Date;
  appliedAt?: Date;
}

/** Where event.data.object was kept before it moved into the event itself: read, never written. */
export interface StripeEventPayload {
  _id: string; // the event id
  object: Record<string, unknown>;
}

const storedStripeEventSchema = new Schema<StoredStripeEvent>(
  {
    _id: String,
    payload: String,
    object: Schema.Types.Mixed,
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
  { versionKey: false, minimize: false },
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

/** What Stripe sent with a stored event (events stored before it moved in: from StripeEventPayload). */
export async function payloadOf(
  db: Connection,
  event: Pick<StoredStripeEvent, '_id' | 'payload' | 'object'>,
): Promise<Record<string, unknown>> {
  if (event.payload !== undefined) return JSON.parse(event.payload) as Record<string, unknown>;
  if (event.object) return event.object;
  const kept = await stripeEventPayloadModel(db).findById(event._id).lean();
  if (!kept) throw new Error(`stored event ${event._id} has no payload`);
  return kept.object;
}
