import { type Connection, Schema, type Types } from 'mongoose';
import { listAtAddresses } from '../email/address-records.js';
import { isDuplicateKey } from '../infra/db.js';

export const GIFT_STATUSES = [
  'pending_payment',
  'paid',
  'delivered',
  'redeemed',
  'expired',
  'refunded',
] as const;
export type GiftStatus = (typeof GIFT_STATUSES)[number];

export interface Gift {
  _id: Types.ObjectId;
  status: GiftStatus;
  purchaser: { name: string; email: string };
  recipient: { name: string; email: string };
  /** Plain text, shown as text. */
  message: string;
  showPurchaserName: boolean;
  durationMonths: number;
  amount: number;
  currency: string;
  locale: string;
  deliverAt: Date;
  campaign?: string;
  checkoutSessionId?: string;
  paymentIntentId?: string;
  /** SHA-256 of the redemption code; the code itself is only ever in the recipient's email. */
  codeHash?: string;
  paidAt?: Date;
  deliveredAt?: Date;
  redeemedAt?: Date;
  redeemedBy?: Types.ObjectId;
  expiresAt?: Date;
  refundedAt?: Date;
  createdAt: Date;
}

const giftSchema = new Schema<Gift>(
  {
    status: { type: String, enum: GIFT_STATUSES, required: true },
    purchaser: { name: { type: String, required: true }, email: { type: String, required: true } },
    recipient: { name: { type: String, required: true }, email: { type: String, required: true } },
    message: { type: String, default: '' },
    showPurchaserName: { type: Boolean, required: true },
    durationMonths: { type: Number, required: true },
    amount: { type: Number, required: true },
    currency: { type: String, required: true },
    locale: { type: String, required: true },
    deliverAt: { type: Date, required: true },
    campaign: String,
    checkoutSessionId: String,
    paymentIntentId: { type: String, index: true },
    codeHash: { type: String, index: true },
    paidAt: Date,
    deliveredAt: Date,
    redeemedAt: Date,
    redeemedBy: Schema.Types.ObjectId,
    expiresAt: Date,
    refundedAt: Date,
  },
  { timestamps: true },
);
giftSchema.index({ status: 1, deliverAt: 1 });

/**
 * The gift time a member holds, as an append-only list per member (slots `<memberId>#<n>`,
 * src/infra/slots.ts): each redemption appends a grant, each refund a revoke. The member's gift end
 * is always recomputed from the whole list, so concurrent redemptions add up and a refund takes
 * back exactly its own gift's months.
 */
export interface GiftGrant {
  _id: string;
  giftId: string;
  kind: 'grant' | 'revoke';
  /** When the gift was redeemed: its months run from here or from the end of earlier time. */
  at: Date;
  months: number;
  /** The member's own (non-gift) time when they redeemed their first gift. */
  base: Date;
}

const giftGrantSchema = new Schema<GiftGrant>(
  {
    _id: String,
    giftId: { type: String, required: true },
    kind: { type: String, enum: ['grant', 'revoke'], required: true },
    at: { type: Date, required: true },
    months: { type: Number, required: true },
    base: { type: Date, required: true },
  },
  { versionKey: false },
);

/**
 * A gift is looked up by its redemption code (every redemption page) and by its payment (every
 * refund): each is the `_id` of a small key document naming the gift, so neither lookup scans the
 * gifts (see src/memberships/member-keys.ts for the same pattern for members).
 */
export interface GiftKey {
  _id: string; // `code:<sha256 of the code>` or `payment:<pi_…>`
  giftId: Types.ObjectId;
}

const giftKeySchema = new Schema<GiftKey>(
  { _id: String, giftId: { type: Schema.Types.ObjectId, required: true } },
  { versionKey: false },
);

/**
 * A paid gift still to deliver, named by the gift's `_id`: the per-minute delivery reads these few
 * instead of the gifts (on FerretDB any filter but `{_id}` decodes every gift). Written before the
 * gift is marked paid, removed once it is delivered (or refunded, or gone). `deliverAt` is never
 * later than the gift's own: when to look at the gift, which decides.
 */
export interface GiftDue {
  _id: Types.ObjectId;
  deliverAt: Date;
}

const giftDueSchema = new Schema<GiftDue>(
  { _id: Schema.Types.ObjectId, deliverAt: { type: Date, required: true } },
  { versionKey: false },
);

/** Puts a gift in the delivery's list before it is marked paid; marking it twice is a no-op. */
export async function markGiftDue(db: Connection, giftId: Types.ObjectId, deliverAt: Date): Promise<void> {
  try {
    await giftDueModel(db).create({ _id: giftId, deliverAt });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

/** Lists gifts paid before the delivery kept its list (a migration, run once). */
export async function backfillGiftDue(db: Connection): Promise<number> {
  let done = 0;
  const gifts = giftModel(db).find({ status: 'paid' }).select({ deliverAt: 1 }).lean<Gift[]>().cursor();
  for await (const gift of gifts) {
    await markGiftDue(db, gift._id, gift.deliverAt);
    done++;
  }
  return done;
}

/**
 * A delivered gift whose reminders or expiry are still to come, named by the gift's `_id`: the
 * hourly sweep reads these instead of every delivered gift ever. Written before the gift is marked
 * delivered; `nextAt` is when the sweep next has something to do for it (a reminder 7 or 30 days
 * after delivery, then its expiry). Removed once the gift is redeemed, refunded or expired.
 */
export interface GiftOpen {
  _id: Types.ObjectId;
  nextAt: Date;
}

const giftOpenSchema = new Schema<GiftOpen>(
  { _id: Schema.Types.ObjectId, nextAt: { type: Date, required: true } },
  { versionKey: false },
);

/** Puts a gift in the sweep's list before it is marked delivered; listing it twice is a no-op. */
export async function listOpenGift(db: Connection, giftId: Types.ObjectId, nextAt: Date): Promise<void> {
  try {
    await giftOpenModel(db).create({ _id: giftId, nextAt });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

/** Lists gifts delivered before the sweep kept its list (a migration, run once). */
export async function backfillOpenGifts(db: Connection): Promise<number> {
  let done = 0;
  const gifts = giftModel(db)
    .find({ status: 'delivered' })
    .select({ deliveredAt: 1 })
    .lean<Gift[]>()
    .cursor();
  for await (const gift of gifts) {
    // Due at once for the sweep, which then finds its next step (reminders already sent are claimed).
    await listOpenGift(db, gift._id, gift.deliveredAt ?? new Date(0));
    done++;
  }
  return done;
}

export const codeKey = (codeHash: string) => `code:${codeHash}`;
export const paymentKey = (paymentIntentId: string) => `payment:${paymentIntentId}`;

/** Writes a key before the gift field it mirrors, so a stored field always has its key. */
export async function keyGift(db: Connection, key: string, giftId: Types.ObjectId): Promise<void> {
  try {
    await db.model<GiftKey>('GiftKey').create({ _id: key, giftId });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

export async function giftByKey(db: Connection, key: string): Promise<Gift | null> {
  const found = await db.model<GiftKey>('GiftKey').findById(key).lean<GiftKey>();
  return found ? giftModel(db).findById(found.giftId).lean<Gift>() : null;
}

/** Keys for gifts stored before the keys were kept (a migration, run once). */
export async function backfillGiftKeys(db: Connection): Promise<number> {
  let done = 0;
  const gifts = giftModel(db).find().select({ codeHash: 1, paymentIntentId: 1 }).lean<Gift[]>().cursor();
  for await (const gift of gifts) {
    if (gift.codeHash) await keyGift(db, codeKey(gift.codeHash), gift._id);
    if (gift.paymentIntentId) await keyGift(db, paymentKey(gift.paymentIntentId), gift._id);
    done++;
  }
  return done;
}

/**
 * Lists a gift under each address it names, before the gift is written with them, so a reader's
 * data export finds it by primary key (docs/privacy.md, "Finding a reader's data").
 */
export function listGiftAtAddresses(db: Connection, giftId: Types.ObjectId, emails: string[]): Promise<void> {
  const items = [{ kind: 'gift' as const, ref: String(giftId) }];
  return listAtAddresses(
    db,
    emails.map((email) => ({ email, items })),
  );
}

/** Lists gifts stored before gifts were listed under their addresses (a migration, run once). */
export async function backfillGiftAddresses(db: Connection): Promise<number> {
  let done = 0;
  const gifts = giftModel(db)
    .find()
    .select({ 'purchaser.email': 1, 'recipient.email': 1 })
    .lean<Gift[]>()
    .cursor();
  for await (const gift of gifts) {
    await listGiftAtAddresses(db, gift._id, [gift.purchaser.email, gift.recipient.email]);
    done++;
  }
  return done;
}

export function registerGiftModels(db: Connection): void {
  if (!db.models.GiftKey) db.model('GiftKey', giftKeySchema, 'gift_keys');
  if (!db.models.Gift) db.model('Gift', giftSchema, 'gifts');
  if (!db.models.GiftGrant) db.model('GiftGrant', giftGrantSchema, 'gift_grants');
  if (!db.models.GiftDue) db.model('GiftDue', giftDueSchema, 'gift_due');
  if (!db.models.GiftOpen) db.model('GiftOpen', giftOpenSchema, 'gift_open');
}

export const giftModel = (db: Connection) => db.model<Gift>('Gift');
export const giftGrantModel = (db: Connection) => db.model<GiftGrant>('GiftGrant');
export const giftDueModel = (db: Connection) => db.model<GiftDue>('GiftDue');
export const giftOpenModel = (db: Connection) => db.model<GiftOpen>('GiftOpen');
