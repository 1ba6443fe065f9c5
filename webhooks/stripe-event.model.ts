import { type Connection, Schema } from 'mongoose';

/** Every verified Stripe event, stored once by its id: the log that replay rebuilds state from. */
export interface StoredStripeEvent {
  _id: string; // evt_…
  type: string;
  created: number; // Stripe's seconds
  livemode: boolean;
  object: Record<string, unknown>; // event.data.object
  status: 'received' | 'applied' | 'ignored' | 'pending' | 'failed';
  attempts: number;
  lastError?: string;
  receivedAt: Date;
  appliedAt?: Date;
}

const storedStripeEventSchema = new Schema<StoredStripeEvent>(
  {
    _id: String,
    type: { type: String, required: true },
    created: { type: Number, required: true, index: true },
    livemode: { type: Boolean, required: true },
    object: { type: Schema.Types.Mixed, required: true },
    status: { type: String, required: true },
    attempts: { type: Number, required: true, default: 0 },
    lastError: String,
    receivedAt: { type: Date, required: true },
    appliedAt: Date,
  },
  { versionKey: false, minimize: false },
);

export function registerStripeEventModel(db: Connection): void {
  if (!db.models.StripeEvent) db.model('StripeEvent', storedStripeEventSchema, 'stripe_events');
}

export const stripeEventModel = (db: Connection) => db.model<StoredStripeEvent>('StripeEvent');
