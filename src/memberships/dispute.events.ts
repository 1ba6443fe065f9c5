import { type Connection, Schema, type Types } from 'mongoose';
import type Stripe from 'stripe';
import { isDuplicateKey } from '../infra/db.js';
import { idOf } from '../infra/stripe.js';
import type { LedgerEntry } from '../ledger/ledger.model.js';
import { findPayment, recordLedgerEntry } from '../ledger/ledger.service.js';
import { fromUnixSeconds } from '../shared/time.js';
import { paymentOwnership } from './charge.events.js';
import { type MembershipDeps, NotReadyYet, type Outcome } from './membership.service.js';

// Disputes book money when Stripe moves it (docs/adr/0012-money-booked-when-stripe-moves-it.md):
// an inquiry (`warning_*`) moves nothing; a chargeback withdraws the disputed amount and a fee;
// winning it reinstates them. What moved is read from the dispute's own `balance_transactions`
// ("zero, one, or two": a withdrawal, then perhaps a reinstatement), which every dispute event
// carries, so any of created / funds_withdrawn / funds_reinstated / closed books the same entries
// under the same ids, in any order, and events stored before funds_* were handled replay alike.

export const DISPUTE_EVENTS = {
  created: 'charge.dispute.created',
  fundsWithdrawn: 'charge.dispute.funds_withdrawn',
  fundsReinstated: 'charge.dispute.funds_reinstated',
  closed: 'charge.dispute.closed',
} as const;

/** An inquiry (Stripe's `warning_*` statuses): a question from the bank, no money moved. */
export const isInquiry = (dispute: Pick<Stripe.Dispute, 'status'>) => dispute.status.startsWith('warning_');

/**
 * A lost dispute, once per dispute: what `campaigns:rebuild` reads to know whose count a chargeback
 * took back, as it reads full refunds from the ledger.
 */
export interface Chargeback {
  _id: string; // the dispute id
  /** The ledger entry of the payment taken back. */
  reverses: string;
  memberId?: Types.ObjectId;
  paymentIntentId?: string;
  amount: number;
  currency: string;
  reason: string;
  lostAt: Date;
}

const chargebackSchema = new Schema<Chargeback>(
  {
    _id: String,
    reverses: { type: String, required: true },
    memberId: Schema.Types.ObjectId,
    paymentIntentId: String,
    amount: { type: Number, required: true, validate: Number.isInteger },
    currency: { type: String, required: true },
    reason: { type: String, required: true },
    lostAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export function registerDisputeModels(db: Connection): void {
  if (!db.models.Chargeback) db.model('Chargeback', chargebackSchema, 'chargebacks');
}
export const chargebackModel = (db: Connection) => db.model<Chargeback>('Chargeback');

/** What Stripe's balance transactions say moved, and when; an event of the funds_* kind says so itself. */
function movements(dispute: Stripe.Dispute, type: string, eventAt: Date) {
  const transactions = dispute.balance_transactions ?? [];
  const out = transactions.find((t) => t.amount < 0);
  const back = transactions.find((t) => t.amount > 0);
  const when = (booked: Stripe.BalanceTransaction | undefined, saidSo: boolean) =>
    booked ? fromUnixSeconds(booked.created) : saidSo ? eventAt : null;
  return {
    withdrawnAt: when(out, type === DISPUTE_EVENTS.fundsWithdrawn),
    reinstatedAt: when(back, type === DISPUTE_EVENTS.fundsReinstated),
  };
}

/**
 * Any dispute event. The withdrawal is the entry `<dispute>` (−amount), the reinstatement
 * `<dispute>:won` (+amount): the ids the first version gave them, so stored events replay onto
 * the same entries. Both are dated when Stripe moved the money. Stripe's fee for the dispute is on
 * those balance transactions and lands in the entries' settlement. A dispute closed `lost` is a
 * chargeback: recorded once and told to the capabilities that take back what a refund takes back.
 * Kept (5xx, retried) while its payment is unknown, unless it moved nothing.
 */
export async function applyDispute(
  deps: MembershipDeps,
  dispute: Stripe.Dispute,
  eventAt: Date,
  type: string,
): Promise<Outcome> {
  const { withdrawnAt, reinstatedAt } = movements(dispute, type, eventAt);
  const lost = type === DISPUTE_EVENTS.closed && dispute.status === 'lost';
  const facts = {
    disputeId: dispute.id,
    status: dispute.status,
    reason: dispute.reason,
    amount: dispute.amount,
    currency: dispute.currency,
    chargeId: idOf(dispute.charge),
  };
  if (!withdrawnAt && !reinstatedAt && !lost) {
    deps.logger.info(
      facts,
      isInquiry(dispute)
        ? 'dispute inquiry: no money moved, nothing booked (answer it in the Stripe Dashboard)'
        : 'dispute: no money moved yet, nothing booked',
    );
    return 'applied';
  }
  const chargeId = idOf(dispute.charge)!;
  const paymentIntentId = idOf(dispute.payment_intent);
  const payment = await findPayment(deps.db, [paymentIntentId, chargeId]);
  if (!payment) {
    // Another app's charge on a shared account is not ours to book: a dispute names only its own
    // date, so its age decides (charge.events.ts, paymentOwnership).
    const madeAt = fromUnixSeconds(dispute.created);
    if ((await paymentOwnership(deps, { madeAt })) === 'not_ours') return 'ignored';
    throw new NotReadyYet(`dispute ${dispute.id}: its payment is not recorded yet`);
  }
  const common = {
    currency: dispute.currency,
    email: payment.email,
    memberId: payment.memberId,
    stripeCustomerId: payment.stripeCustomerId,
    chargeId,
    paymentIntentId,
    reverses: payment._id,
    campaign: payment.campaign,
    reason: dispute.reason,
  };
  if (withdrawnAt)
    await recordLedgerEntry(deps, {
      ...common,
      _id: dispute.id,
      kind: 'dispute',
      amount: -dispute.amount,
      occurredAt: withdrawnAt,
    });
  if (reinstatedAt)
    await recordLedgerEntry(deps, {
      ...common,
      _id: `${dispute.id}:won`,
      kind: 'dispute_reversal',
      amount: dispute.amount,
      occurredAt: reinstatedAt,
    });
  if (lost) await chargeBack(deps, dispute, payment, eventAt);
  deps.logger.info(facts, `dispute ${dispute.status}: booked what Stripe moved`);
  return 'applied';
}

/** The verdict, stored once and published on every delivery (listeners are idempotent). */
async function chargeBack(deps: MembershipDeps, dispute: Stripe.Dispute, payment: LedgerEntry, at: Date) {
  const chargeback: Chargeback = {
    _id: dispute.id,
    reverses: payment._id,
    memberId: payment.memberId,
    paymentIntentId: idOf(dispute.payment_intent) ?? payment.paymentIntentId,
    amount: dispute.amount,
    currency: dispute.currency,
    reason: dispute.reason,
    lostAt: at,
  };
  await chargebackModel(deps.db)
    .create(chargeback)
    .catch((error: unknown) => {
      if (!isDuplicateKey(error)) throw error;
    });
  // The first delivery's date decides, so a redelivery tells the listeners the same facts.
  const stored = (await chargebackModel(deps.db).findById(dispute.id).lean<Chargeback>()) ?? chargeback;
  await deps.events.publish('payment.charged_back', {
    disputeId: stored._id,
    reverses: stored.reverses,
    paymentIntentId: stored.paymentIntentId,
    memberId: stored.memberId ? String(stored.memberId) : undefined,
    amount: stored.amount,
    currency: stored.currency,
    occurredAt: stored.lostAt,
    reason: stored.reason,
  });
}

/** What the webhook needs to act on an early fraud warning. */
export interface EarlyFraudWarningOptions {
  /** EARLY_FRAUD_WARNING_REFUNDS: refund what can be refunded before it becomes a dispute. */
  refund: boolean;
  /** Absent in replay: a replay never calls Stripe. */
  stripe?: Stripe | null;
  /** Whether a gift bought with this PaymentIntent can still be refunded (not redeemed, not refunded). */
  giftRefundable: (paymentIntentId: string) => Promise<boolean>;
}

/**
 * Radar's early fraud warning: the card's issuer reported the payment as fraud; most become
 * disputes. It moves no money, so nothing is booked; staff see it in the log. With refunds on, an
 * unredeemed gift or a one-time contribution (a sponsorship too) is refunded through Stripe, once
 * per warning (the idempotency key), and the refund comes back as an ordinary `charge.refunded`.
 * A subscription payment is never refunded automatically: the reader may be real.
 */
export async function applyEarlyFraudWarning(
  deps: MembershipDeps,
  warning: Stripe.Radar.EarlyFraudWarning,
  options: EarlyFraudWarningOptions,
): Promise<Outcome> {
  const chargeId = idOf(warning.charge);
  const paymentIntentId = idOf(warning.payment_intent);
  const payment = await findPayment(deps.db, [paymentIntentId, chargeId]);
  const facts = {
    warningId: warning.id,
    fraudType: warning.fraud_type,
    actionable: warning.actionable,
    chargeId,
    paymentIntentId,
    entryId: payment?._id,
    kind: payment?.kind,
  };
  const refundable =
    payment?.kind === 'one_time_payment' ||
    (payment?.kind === 'gift_purchase' &&
      Boolean(payment.paymentIntentId ?? paymentIntentId) &&
      (await options.giftRefundable((payment.paymentIntentId ?? paymentIntentId)!)));
  // `actionable: false` means the payment was already refunded or disputed: nothing left to do.
  if (!options.refund || !options.stripe || !warning.actionable || !refundable) {
    deps.logger.warn(
      { ...facts, refundable },
      'early fraud warning: nothing booked; staff may refund it in the Stripe Dashboard before it becomes a dispute',
    );
    return 'applied';
  }
  const refund = await options.stripe.refunds.create(
    {
      ...(chargeId ? { charge: chargeId } : { payment_intent: paymentIntentId! }),
      reason: 'fraudulent',
      metadata: { early_fraud_warning: warning.id },
    },
    { idempotencyKey: `early-fraud-warning:${warning.id}` },
  );
  deps.logger.warn({ ...facts, refundId: refund.id }, 'early fraud warning: refunded before a dispute');
  return 'applied';
}
