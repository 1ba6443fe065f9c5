import { type Connection, Schema } from 'mongoose';
import { attributionSchema } from '../ledger/ledger.model.js';
import type { Attribution } from '../shared/attribution.js';

// What the attribution report reads, maintained as members join and money is recorded, so a
// report never scans members or the ledger. Rows are a dense run per campaign and day, like a
// tally (src/infra/tally.ts): `<campaign>|<day>#0`, `#1`, …, each naming the fact it records under
// a unique index, so a redelivered event adds nothing. Reading a day is a walk of `_id`s.

export interface AttributionRow {
  _id: string; // `<campaign>|<day>#<n>`
  /** `member:<id>` (a member joined), `pay:<entry>` (money), `refund:<entry>` (money back). */
  record: string;
  kind: 'member' | 'money';
  /** Minor units; negative for a refund. 0 for a member row. */
  amount: number;
  currency?: string;
  attribution?: Attribution;
  at: Date;
}

/**
 * Placements seen per campaign (slots `<campaign>#n`: the list the limit of 20 is kept on) and per
 * campaign and day (`<campaign>|<day>#n`: the tallies a report reads).
 */
export interface FunnelPlacement {
  _id: string;
  placement: string;
}

/**
 * A settled day's funnel for one campaign, rolled up from its tallies once (`_id` `<campaign>|<day>`,
 * an insert with a unique `_id`): a report reads this one document instead of the day's tallies.
 */
export interface FunnelDay {
  _id: string;
  rows: { placement: string; view: number; click: number; started: number; paid: number }[];
}

const funnelDaySchema = new Schema<FunnelDay>(
  {
    _id: String,
    rows: [{ _id: false, placement: String, view: Number, click: Number, started: Number, paid: Number }],
  },
  { versionKey: false },
);

const rowSchema = new Schema<AttributionRow>(
  {
    _id: String,
    record: { type: String, required: true, unique: true },
    kind: { type: String, enum: ['member', 'money'], required: true },
    amount: { type: Number, required: true, validate: Number.isInteger },
    currency: String,
    attribution: { type: attributionSchema, default: undefined },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

const placementSchema = new Schema<FunnelPlacement>(
  { _id: String, placement: { type: String, required: true } },
  { versionKey: false },
);

export function registerAttributionModels(db: Connection): void {
  if (!db.models.AttributionRow) db.model('AttributionRow', rowSchema, 'attribution_rows');
  if (!db.models.FunnelPlacement) db.model('FunnelPlacement', placementSchema, 'funnel_placements');
  if (!db.models.FunnelDay) db.model('FunnelDay', funnelDaySchema, 'funnel_days');
}

export const attributionModels = (db: Connection) => ({
  AttributionRow: db.model<AttributionRow>('AttributionRow'),
  FunnelPlacement: db.model<FunnelPlacement>('FunnelPlacement'),
  FunnelDay: db.model<FunnelDay>('FunnelDay'),
});
