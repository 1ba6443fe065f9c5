import { type Connection, Schema, type Types } from 'mongoose';
import type { Attribution } from '../shared/attribution.js';

export const LEDGER_KINDS = [
  'subscription_payment',
  'one_time_payment',
  'gift_purchase',
  'refund',
  'dispute',
  'dispute_reversal',
  'free_invoice',
  'out_of_band_payment',
  'refund_failure',
] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/**
 * Money that Stripe moved, so a balance transaction stands behind it: what settlement looks up,
 * reconciliation matches and refunds and disputes can take back.
 */
export const STRIPE_PAYMENT_KINDS: readonly LedgerKind[] = [
  'subscription_payment',
  'one_time_payment',
  'gift_purchase',
];

/**
 * Invoices that Stripe marked paid with no charge behind them: a $0 invoice (a trial, a 100 %
 * promotion code, gift months on a subscription; amount 0) and money the newsroom received outside
 * Stripe (an invoice paid out of band). Nothing is expected in Stripe's balance, so they are never
 * settled nor reconciled; finance reports show out-of-band money apart from Stripe revenue.
 */
export const OUTSIDE_STRIPE_KINDS: readonly LedgerKind[] = ['free_invoice', 'out_of_band_payment'];

/** Whether Stripe's balance should hold money for an entry of this kind. */
export const movedByStripe = (kind: string) => !(OUTSIDE_STRIPE_KINDS as readonly string[]).includes(kind);

/**
 * What Stripe moved for an entry, from its balance transaction(s): amounts in the settlement
 * currency (the account's payout currency), which may differ from the entry's own currency.
 */
export interface Settlement {
  balanceTransactionIds: string[];
  /** The Stripe objects that moved the money: a charge, refunds or a dispute. */
  sources: string[];
  currency: string;
  amount: number;
  fee: number;
  net: number;
  /** Entry currency → settlement currency; null when they are the same. */
  exchangeRate: number | null;
  settledAt: Date;
}

/**
 * Immutable record of money in (positive) or out (negative), in integer minor units. `_id` is
 * the Stripe object it records, so recording it twice is impossible. Finance reports sum these.
 */
export interface LedgerEntry {
  _id: string;
  kind: LedgerKind;
  amount: number;
  currency: string;
  occurredAt: Date;
  day: string; // YYYY-MM-DD in the newsroom's time zone
  month: string; // YYYY-MM in the newsroom's time zone
  email?: string;
  name?: string;
  memberId?: Types.ObjectId;
  stripeCustomerId?: string;
  chargeId?: string;
  paymentIntentId?: string;
  invoiceId?: string;
  /** Stripe's `billing_reason` of an invoice: `subscription_create` is a subscription's first payment. */
  billingReason?: string;
  subscriptionId?: string;
  /**
   * For invoices: the subscription period the invoice's lines bill (a trial's $0 first invoice: the
   * trial). Where a free first period ends and a payment's period starts is what makes that payment
   * a trial member's first money (campaigns/counting-rules.ts).
   */
  periodStart?: Date;
  periodEnd?: Date;
  checkoutSessionId?: string;
  /** For refunds and disputes: the ledger entry of the payment they take back. */
  reverses?: string;
  /** For refunds: this entry completes the refund of the whole charge (what takes a member back from a campaign). */
  fullRefund?: boolean;
  /** For disputes: Stripe's reason (`fraudulent`, `product_not_received`, …), for finance. */
  reason?: string;
  plan?: string;
  interval?: string;
  campaign?: string;
  /** Payments: where the checkout came from (the session's or subscription's `attr_*` metadata). */
  attribution?: Attribution;
  recordedAt: Date;
  /** `imported`: walked from the Stripe account by `npm run import -- stripe` (src/imports/). */
  source?: 'imported';
  /** Added once Stripe has booked the money; the facts above never change. */
  settlement?: Settlement;
}

/** Where a checkout came from (src/shared/attribution.ts): plain strings, bounded at checkout. */
export const attributionSchema = new Schema(
  {
    page: String,
    placement: String,
    referrer: String,
    utmSource: String,
    utmMedium: String,
    utmCampaign: String,
    utmContent: String,
    utmTerm: String,
    newsletter: String,
  },
  { _id: false },
);

const settlementSchema = new Schema<Settlement>(
  {
    balanceTransactionIds: { type: [String], required: true },
    sources: { type: [String], required: true },
    currency: { type: String, required: true },
    amount: { type: Number, required: true, validate: Number.isInteger },
    fee: { type: Number, required: true, validate: Number.isInteger },
    net: { type: Number, required: true, validate: Number.isInteger },
    exchangeRate: { type: Number, default: null },
    settledAt: { type: Date, required: true },
  },
  { _id: false },
);

const ledgerSchema = new Schema<LedgerEntry>(
  {
    _id: String,
    kind: { type: String, enum: LEDGER_KINDS, required: true },
    amount: { type: Number, required: true, validate: Number.isInteger },
    currency: { type: String, required: true },
    occurredAt: { type: Date, required: true },
    day: { type: String, required: true, index: true },
    month: { type: String, required: true, index: true },
    email: String,
    name: String,
    memberId: { type: Schema.Types.ObjectId, index: true },
    stripeCustomerId: String,
    chargeId: { type: String, index: true },
    paymentIntentId: { type: String, index: true },
    invoiceId: String,
    billingReason: String,
    subscriptionId: String,
    periodStart: Date,
    periodEnd: Date,
    checkoutSessionId: String,
    reverses: String,
    fullRefund: Boolean,
    reason: String,
    plan: String,
    interval: String,
    campaign: String,
    attribution: { type: attributionSchema, default: undefined },
    recordedAt: { type: Date, required: true },
    source: String,
    settlement: { type: settlementSchema, default: undefined },
  },
  { versionKey: false },
);

ledgerSchema.index({ occurredAt: 1 });

/**
 * Which payment entry a Stripe PaymentIntent or charge id belongs to, written when the payment is
 * recorded (from the event alone: the one-time session's PaymentIntent, an invoice's payments), so
 * refunds and disputes find their payment with one primary-key lookup, never through settlement.
 */
export interface PaymentLink {
  _id: string; // pi_… or ch_…
  entryId: string;
}

/**
 * One step of a charge's refunded total, from `from` to `to` (minor units); `_id` is
 * `<chargeId>:<from>`, so two deliveries that both see the total at `from` cannot both extend it:
 * the steps of a charge form one chain 0 → a → b …, and each step is one refund ledger entry.
 */
export interface RefundStep {
  _id: string;
  chargeId: string;
  from: number;
  to: number;
  /** The charge's amount: the step that reaches it refunds the payment in full. */
  of: number;
  occurredAt: Date;
  /**
   * The newest `charge.refunded` the chain has taken in when this step was made, as Stripe said it
   * (`amount_refunded`, the amount that makes it full, the event's time). A refund failure learnt
   * later reads it again (docs/adr/0013-failed-refunds.md). Absent on steps made before.
   */
  seen?: { total: number; of: number; at: Date };
}

/**
 * A refund of the charge that failed (or was canceled): Stripe put its amount back in the balance.
 * `_id` is `<chargeId>:failed:<n>`, a chain by unique insert like the steps, so the failures of a
 * charge are read by primary key; each refund appears once.
 */
export interface RefundFailure {
  _id: string;
  chargeId: string;
  refundId: string;
  amount: number;
  failedAt: Date;
}

const paymentLinkSchema = new Schema<PaymentLink>(
  { _id: String, entryId: { type: String, required: true } },
  { versionKey: false },
);

const refundStepSchema = new Schema<RefundStep>(
  {
    _id: String,
    chargeId: { type: String, required: true },
    from: { type: Number, required: true },
    to: { type: Number, required: true },
    of: { type: Number, required: true },
    occurredAt: { type: Date, required: true },
    seen: {
      type: new Schema(
        {
          total: { type: Number, required: true },
          of: { type: Number, required: true },
          at: { type: Date, required: true },
        },
        { _id: false },
      ),
      default: undefined,
    },
  },
  { versionKey: false },
);

const refundFailureSchema = new Schema<RefundFailure>(
  {
    _id: String,
    chargeId: { type: String, required: true },
    refundId: { type: String, required: true },
    amount: { type: Number, required: true, validate: Number.isInteger },
    failedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/**
 * An entry whose Stripe money is not settled yet: written before the entry, removed once it is
 * settled, so the sweep reads these few instead of the whole ledger (on FerretDB any filter but
 * `_id` decodes every entry). `triedAt` rotates the sweep: the least recently tried go first, so
 * entries Stripe never books cannot hold back the others.
 */
export interface SettlementDue {
  _id: string; // the ledger entry's id
  occurredAt: Date;
  triedAt?: Date | null;
}

const settlementDueSchema = new Schema<SettlementDue>(
  { _id: String, occurredAt: { type: Date, required: true }, triedAt: Date },
  { versionKey: false },
);

export function registerLedgerModels(db: Connection): void {
  if (!db.models.SettlementDue) db.model('SettlementDue', settlementDueSchema, 'settlement_due');
  if (!db.models.LedgerEntry) db.model('LedgerEntry', ledgerSchema, 'ledger');
  if (!db.models.PaymentLink) db.model('PaymentLink', paymentLinkSchema, 'payment_links');
  if (!db.models.RefundStep) db.model('RefundStep', refundStepSchema, 'refund_steps');
  if (!db.models.RefundFailure) db.model('RefundFailure', refundFailureSchema, 'refund_failures');
}

export const ledgerModel = (db: Connection) => db.model<LedgerEntry>('LedgerEntry');
export const paymentLinkModel = (db: Connection) => db.model<PaymentLink>('PaymentLink');
export const refundStepModel = (db: Connection) => db.model<RefundStep>('RefundStep');
export const settlementDueModel = (db: Connection) => db.model<SettlementDue>('SettlementDue');
export const refundFailureModel = (db: Connection) => db.model<RefundFailure>('RefundFailure');
