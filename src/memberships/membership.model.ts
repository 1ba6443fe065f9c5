import { type Connection, Schema, Types } from 'mongoose';
import { mapLimit } from '../infra/bulk.js';
import { isDuplicateKey } from '../infra/db.js';
import { appendSlot } from '../infra/slots.js';
import { attributionSchema } from '../ledger/ledger.model.js';
import type { Attribution } from '../shared/attribution.js';
import {
  reconcileAllSupporters,
  reconcileSupporter,
  registerSupporterTransitions,
} from './supporter-marks.js';

// Every document memberships keeps, registered from this one place. The key documents and the
// member's subscription list are written by hooks here, so no write of a member or mirror can skip
// them; member-keys.ts reads and claims keys through these models (it imports this file, never the
// other way round).

/**
 * `past_due`: a payment failed and Stripe is retrying it (dunning). `paused`: Stripe paused the
 * subscription (a trial ended without a payment method, a pause asked for, or a pause after failed
 * payments): no invoices, nothing retried, so not dunning.
 */
export const MEMBER_STATUSES = ['active', 'past_due', 'paused', 'canceled', 'expired'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export interface Member {
  _id: Types.ObjectId;
  email: string; // lowercased, trimmed: one member per address
  name?: string;
  locale: string;
  stripeCustomerId?: string;
  status: MemberStatus;
  /** `imported`: an existing supporter brought in by `npm run import` (src/imports/); never a new member of a drive. */
  source: 'checkout' | 'gift' | 'imported';
  /** When they first became a member: what campaigns count. Never changes. */
  joinedAt: Date;
  /** The checkout session (or gift) that made them a member. */
  joinedVia: string;
  /**
   * Whether money arrived when they joined (false: a trial or a 100 % promotion code; they count
   * toward a drive at their first payment with money). Absent on members from before it was kept.
   */
  joinedPaying?: boolean;
  campaign?: string;
  /** Where the checkout that made them a member came from; set once, as they join. */
  attribution?: Attribution;
  /** Labels brought from an imported file (Ghost's labels, the plain format's). */
  labels?: string[];
  currentPeriodEnd?: Date;
  /** When the membership last ended (canceled or expired); null while it runs. */
  endedAt?: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Mirror of a Stripe subscription, moved only by events newer than the last one applied. */
export interface Subscription {
  _id: string; // Stripe subscription id
  memberId: Types.ObjectId;
  customerId: string;
  status: string; // Stripe's status
  plan: string;
  interval: string;
  amount: number;
  currency: string;
  currentPeriodEnd?: Date;
  cancelAtPeriodEnd: boolean;
  lastEventCreated: number; // Stripe event `created` (seconds) of the last applied event
  lastEventId: string;
  /** `imported`: adopted from the Stripe account or a members file (src/imports/). */
  source?: 'imported';
  billing?: SubscriptionBilling;
  trialEnd?: Date | null;
  canceledAt?: Date | null;
  cancellation?: { reason: string | null; feedback: string | null } | null;
}

/** A coupon as the mirror keeps it for MRR: what it takes off, on what, for how long. */
export interface BillingCoupon {
  id: string;
  duration: string; // once | repeating | forever
  percentOff: number | null;
  amountOff: number | null;
  currency: string | null;
  amountOffByCurrency?: Record<string, number>;
  /** Only these products' items are discounted (Stripe's `applies_to`). */
  products?: string[];
}

/** A discount on the subscription, or on one item (`item`); its coupon once known. */
export interface BillingDiscount {
  id: string;
  item?: string;
  /** Unix seconds when a repeating coupon stops applying; null for forever (and once). */
  end: number | null;
  coupon?: BillingCoupon;
}

/** What a subscription bills per period: every item, then discounts (reports' MRR). */
export interface SubscriptionBilling {
  interval: string;
  intervalCount: number;
  items: { id: string; product: string | null; amount: number }[];
  discounts: BillingDiscount[];
}

/** The mirror's fields that one subscription event determines. */
export interface SubscriptionState {
  memberId: Types.ObjectId;
  customerId: string;
  status: string;
  plan: string;
  interval: string;
  amount: number;
  currency: string;
  currentPeriodEnd?: Date;
  cancelAtPeriodEnd: boolean;
  /** Absent on mirrors written before these were kept, and on checkout's first record. */
  billing?: SubscriptionBilling;
  trialEnd?: Date | null;
  canceledAt?: Date | null;
  /** Stripe's `cancellation_details` without the free-text comment (docs/privacy.md). */
  cancellation?: { reason: string | null; feedback: string | null } | null;
}

/**
 * What one customer.subscription.* event said, stored once and never changed (slots
 * `<subscriptionId>#<n>`, src/infra/slots.ts). The mirror is always the newest of these.
 */
export interface SubscriptionObservation {
  _id: string;
  subscriptionId: string;
  eventId: string;
  created: number; // Stripe's seconds
  state: SubscriptionState;
}

const memberSchema = new Schema<Member>(
  {
    email: { type: String, required: true, unique: true },
    name: String,
    locale: { type: String, required: true, default: 'en' },
    stripeCustomerId: { type: String, index: true },
    status: { type: String, enum: MEMBER_STATUSES, required: true },
    source: { type: String, enum: ['checkout', 'gift', 'imported'], required: true },
    joinedAt: { type: Date, required: true, index: true },
    joinedVia: { type: String, required: true },
    joinedPaying: Boolean,
    campaign: String,
    attribution: { type: attributionSchema, default: undefined },
    labels: { type: [String], default: undefined },
    currentPeriodEnd: Date,
    endedAt: Date,
  },
  { timestamps: true },
);

const subscriptionSchema = new Schema<Subscription>(
  {
    _id: String,
    memberId: { type: Schema.Types.ObjectId, required: true, index: true },
    customerId: { type: String, required: true },
    status: { type: String, required: true },
    plan: { type: String, required: true },
    interval: { type: String, required: true },
    amount: { type: Number, required: true },
    currency: { type: String, required: true },
    currentPeriodEnd: Date,
    cancelAtPeriodEnd: { type: Boolean, required: true, default: false },
    lastEventCreated: { type: Number, required: true },
    lastEventId: { type: String, required: true },
    source: String,
    billing: Schema.Types.Mixed,
    trialEnd: Date,
    canceledAt: Date,
    cancellation: Schema.Types.Mixed,
  },
  { timestamps: true, versionKey: false },
);

/**
 * A natural key of a member (`email:<address>` or `customer:<cus_…>`) as the `_id` of a small
 * document naming the member: on FerretDB only an `{_id}` filter uses an index (member-keys.ts).
 */
export interface MemberKey {
  _id: string;
  memberId: Types.ObjectId;
}

const memberKeySchema = new Schema<MemberKey>(
  { _id: String, memberId: { type: Schema.Types.ObjectId, required: true } },
  { versionKey: false },
);

export const emailKey = (email: string) => `email:${email}`;
export const customerKey = (customerId: string) => `customer:${customerId}`;

/** Writes the keys of members that have none (idempotent; every key insert is its own claim). */
export async function ensureMemberKeys(
  db: Connection,
  members: Pick<Member, '_id' | 'email' | 'stripeCustomerId'>[],
): Promise<void> {
  const keys = members.flatMap((m) => [
    { _id: emailKey(m.email), memberId: m._id },
    ...(m.stripeCustomerId ? [{ _id: customerKey(m.stripeCustomerId), memberId: m._id }] : []),
  ]);
  if (keys.length === 0) return;
  await db
    .model<MemberKey>('MemberKey')
    .insertMany(keys, { ordered: false })
    .catch((error) => {
      const writeErrors = (error as { writeErrors?: { code?: number; err?: { code?: number } }[] })
        .writeErrors;
      const onlyDuplicates = writeErrors?.every((e) => (e.code ?? e.err?.code) === 11000);
      if (!onlyDuplicates && !isDuplicateKey(error)) throw error;
    });
}

/** Lists a subscription under its member, once. */
export async function listMemberSubscription(
  db: Connection,
  memberId: Types.ObjectId | string,
  subscriptionId: string,
): Promise<void> {
  await appendSlot(
    db.model<MemberSubscription>('MemberSubscription'),
    String(memberId),
    { subscriptionId },
    (stored) => stored.subscriptionId === subscriptionId,
  );
}

/** Whether every member has been reconciled once (supporters.ts): the total is known from then. */
export interface SupporterTotal {
  _id: string;
  passedAt?: Date;
}

const supporterTotalSchema = new Schema<SupporterTotal>(
  { _id: String, passedAt: Date },
  { versionKey: false },
);

// Every write of a member reconciles its supporter transitions before it returns, so the supporters
// total is right as soon as the write is (supporter-marks.ts). A write that names no single member
// (tests' deleteMany; the program has none) reconciles them all. The time is only kept with each
// transition for a person reading it, so it is the wall clock.
const WHOLE_DOCUMENT = new Set(['deleteOne', 'deleteMany', 'findOneAndDelete', 'replaceOne']);
function touchesStatus(op: string, update: Record<string, unknown> | null): boolean {
  if (WHOLE_DOCUMENT.has(op) || !update) return true;
  return Object.entries(update).some(
    ([key, value]) =>
      !key.startsWith('$') || (typeof value === 'object' && value !== null && 'status' in value),
  );
}
memberSchema.post('save', async (member: Member & { db: Connection }) => {
  await reconcileSupporter(member.db, String(member._id), new Date());
});
memberSchema.post('insertMany', async function (members: unknown) {
  await mapLimit(members as Member[], 8, (m) => reconcileSupporter(this.db, String(m._id), new Date()));
});
memberSchema.post(
  [
    'updateOne',
    'updateMany',
    'findOneAndUpdate',
    'replaceOne',
    'deleteOne',
    'deleteMany',
    'findOneAndDelete',
  ],
  { document: false, query: true },
  async function () {
    const op = (this as unknown as { op?: string }).op ?? '';
    if (!touchesStatus(op, this.getUpdate() as Record<string, unknown> | null)) return;
    const id = this.getFilter()._id;
    const one = typeof id === 'string' || id instanceof Types.ObjectId;
    if (one && op !== 'updateMany' && op !== 'deleteMany')
      await reconcileSupporter(this.model.db, String(id), new Date());
    else await reconcileAllSupporters(this.model.db, new Date());
  },
);

// Every member has its key documents (member-keys.ts): written after any create that did not go
// through createMemberOnce (gift redemption, tests, imports). Duplicates are ignored.
memberSchema.post('save', async (member: Member & { db: Connection }) => {
  await ensureMemberKeys(member.db, [member]);
});
memberSchema.post('insertMany', async function (members: unknown) {
  await ensureMemberKeys(this.db, members as Member[]);
});

// Likewise every mirror is listed under its member (`member_subscriptions`, see subscriptionsOf).
subscriptionSchema.post('save', async (mirror: Subscription & { db: Connection }) => {
  if (mirror.memberId) await listMemberSubscription(mirror.db, mirror.memberId, mirror._id);
});

const observationSchema = new Schema<SubscriptionObservation>(
  {
    _id: String,
    subscriptionId: { type: String, required: true },
    eventId: { type: String, required: true },
    created: { type: Number, required: true },
    state: { type: Schema.Types.Mixed, required: true },
  },
  { versionKey: false, minimize: false },
);

/**
 * Every subscription a member has had, as append-only slots `<memberId>#0, #1, …` (infra/slots.ts):
 * a member's status is decided by all of them, read by `_id` without scanning subscriptions.
 */
export interface MemberSubscription {
  _id: string;
  subscriptionId: string;
}

const memberSubscriptionSchema = new Schema<MemberSubscription>(
  { _id: String, subscriptionId: { type: String, required: true } },
  { versionKey: false },
);

/**
 * A member a gift made, listed with the end of their gift time (gift-membership.ts): the hourly
 * gift sweep reads this list, and only the members it says are due, never searches the members.
 */
export interface GiftMemberEnd {
  _id: string; // the member's id
  endsAt: Date;
}

const giftMemberEndSchema = new Schema<GiftMemberEnd>(
  { _id: String, endsAt: { type: Date, required: true } },
  { versionKey: false },
);

export function registerMembershipModels(db: Connection): void {
  if (!db.models.MemberKey) db.model('MemberKey', memberKeySchema, 'member_keys');
  if (!db.models.SupporterTotal) db.model('SupporterTotal', supporterTotalSchema, 'supporter_totals');
  registerSupporterTransitions(db);
  if (!db.models.Member) db.model('Member', memberSchema, 'members');
  if (!db.models.Subscription) db.model('Subscription', subscriptionSchema, 'subscriptions');
  if (!db.models.SubscriptionObservation)
    db.model('SubscriptionObservation', observationSchema, 'subscription_observations');
  if (!db.models.MemberSubscription)
    db.model('MemberSubscription', memberSubscriptionSchema, 'member_subscriptions');
  if (!db.models.GiftMemberEnd) db.model('GiftMemberEnd', giftMemberEndSchema, 'gift_member_ends');
}

export function membershipModels(db: Connection) {
  return {
    Member: db.model<Member>('Member'),
    Subscription: db.model<Subscription>('Subscription'),
    SubscriptionObservation: db.model<SubscriptionObservation>('SubscriptionObservation'),
    MemberSubscription: db.model<MemberSubscription>('MemberSubscription'),
    MemberKey: db.model<MemberKey>('MemberKey'),
    SupporterTotal: db.model<SupporterTotal>('SupporterTotal'),
    GiftMemberEnd: db.model<GiftMemberEnd>('GiftMemberEnd'),
  };
}
