import { type Connection, Schema, type Types } from 'mongoose';

// Sponsor a reader: supporters pay into a campaign's pool; readers who cannot pay ask; staff (or a
// rule) approve, and each approval draws one membership's worth of the oldest unallocated money.
//
// Pool money and allocations are append-only runs per pool (`<campaign>:<currency>`), each position
// a unique `_id` taken by insert (the one atomic primitive everywhere):
//  - funds `<pool>#n`: money in (a sponsorship payment) or out (its refund), unique by ledger entry;
//  - allocations `<pool>#n`: allocation n spends money [n·price, (n+1)·price) of the pool's money in
//    payment order, so it exists only if that much money ever came in: the pool cannot be overdrawn
//    by approvals however many race. Unique by request, so a request is granted once.

export interface PoolFund {
  _id: string; // `<pool>#<n>`
  pool: string;
  index: number;
  /** The ledger entry (sponsorship payment, or its refund): unique, so money is counted once. */
  entryId: string;
  amount: number; // minor units; negative for a refund
  sponsorEmail: string;
  /** For a refund: the payment it takes back. */
  reverses?: string;
  at: Date;
}

export interface PoolAllocation {
  _id: string; // `<pool>#<n>`
  pool: string;
  index: number;
  requestId: string; // unique: one allocation per request
  price: number;
  at: Date;
}

/** `waiting_for_funds`: approved while the pool could not pay (empty, or in deficit); approve again. */
export type RequestStatus = 'unconfirmed' | 'requested' | 'waiting_for_funds' | 'approved' | 'declined';

export interface SponsorshipRequest {
  _id: Types.ObjectId;
  campaignId: Types.ObjectId;
  email: string;
  reason: string;
  country: string;
  locale: string;
  status: RequestStatus;
  /** SHA-256 of the email confirmation token (double opt-in). */
  tokenHash: string;
  note?: string;
  decidedBy?: string;
  decidedAt?: Date;
  /** The allocation that paid for it, once granted. */
  allocation?: string;
  createdAt: Date;
}

const fundSchema = new Schema<PoolFund>(
  {
    _id: String,
    pool: { type: String, required: true },
    index: { type: Number, required: true },
    entryId: { type: String, required: true, unique: true },
    amount: { type: Number, required: true },
    sponsorEmail: { type: String, required: true },
    reverses: String,
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

const allocationSchema = new Schema<PoolAllocation>(
  {
    _id: String,
    pool: { type: String, required: true },
    index: { type: Number, required: true },
    requestId: { type: String, required: true, unique: true },
    price: { type: Number, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

const requestSchema = new Schema<SponsorshipRequest>(
  {
    campaignId: { type: Schema.Types.ObjectId, required: true },
    email: { type: String, required: true },
    reason: { type: String, required: true },
    country: { type: String, required: true },
    locale: { type: String, required: true },
    status: { type: String, required: true },
    tokenHash: { type: String, required: true },
    note: String,
    decidedBy: String,
    decidedAt: Date,
    allocation: String,
  },
  { timestamps: { createdAt: true, updatedAt: false } },
);

export function registerSponsorshipModels(db: Connection): void {
  if (!db.models.PoolFund) db.model('PoolFund', fundSchema, 'sponsorship_funds');
  if (!db.models.PoolAllocation) db.model('PoolAllocation', allocationSchema, 'sponsorship_allocations');
  if (!db.models.SponsorshipRequest) db.model('SponsorshipRequest', requestSchema, 'sponsorship_requests');
}

export const sponsorshipModels = (db: Connection) => ({
  Fund: db.model<PoolFund>('PoolFund'),
  Allocation: db.model<PoolAllocation>('PoolAllocation'),
  Request: db.model<SponsorshipRequest>('SponsorshipRequest'),
});

export const poolKey = (campaignId: Types.ObjectId | string, currency: string) =>
  `${campaignId}:${currency.toLowerCase()}`;
