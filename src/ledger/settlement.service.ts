import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import { idOf, isMissingInStripe } from '../infra/stripe.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { type LedgerEntry, ledgerModel, type Settlement } from './ledger.model.js';
import { linkPayment } from './ledger.service.js';

export interface SettlementDeps {
  db: Connection;
  stripe: Stripe;
  clock: Clock;
  logger: Logger;
}

// Settling runs inside webhook handling: a slow Stripe must not hold the reply past Stripe's own
// patience, and what fails here is retried by the sweep anyway.
const CALL = { timeout: 5_000, maxNetworkRetries: 1 };

const PAYMENT_KINDS = new Set(['subscription_payment', 'one_time_payment', 'gift_purchase']);

/** A balance transaction with the Stripe object that caused it (a charge, refund or dispute). */
interface Moved {
  transaction: Stripe.BalanceTransaction;
  source: string;
}

/**
 * Records what Stripe actually moved for one ledger entry: the balance transaction(s) behind it,
 * with Stripe's fee, the net and the settlement currency and exchange rate. Stripe's objects are
 * the authority, so this reads them rather than trusting the event. Writes once; an entry whose
 * money Stripe has not booked yet stays unsettled and is tried again by `settleUnsettledEntries`.
 */
export async function settleLedgerEntry(deps: SettlementDeps, entryId: string): Promise<boolean> {
  const entry = await ledgerModel(deps.db).findById(entryId).lean<LedgerEntry>();
  if (!entry || entry.settlement) return Boolean(entry?.settlement);
  // Stripe has no such object: nothing was moved, which reconciliation reports.
  const moved = await balanceTransactionsOf(deps.stripe, entry).catch((error) =>
    isMissingInStripe(error) ? [] : Promise.reject(error),
  );
  if (moved.length === 0) return false;
  const settlement: Settlement = {
    balanceTransactionIds: moved.map((m) => m.transaction.id),
    sources: moved.map((m) => m.source),
    currency: moved[0]!.transaction.currency,
    amount: sum(moved, (m) => m.transaction.amount),
    fee: sum(moved, (m) => m.transaction.fee),
    net: sum(moved, (m) => m.transaction.net),
    exchangeRate: moved[0]!.transaction.exchange_rate,
    settledAt: deps.clock.now(),
  };
  const chargeId = entry.chargeId ?? moved.find((m) => m.source.startsWith('ch_'))?.source;
  await ledgerModel(deps.db).updateOne(
    { _id: entryId, settlement: null },
    { $set: { settlement, ...(chargeId ? { chargeId } : {}) } },
  );
  // Enrichment only: refunds and disputes find their payment from the events' own ids first.
  if (PAYMENT_KINDS.has(entry.kind)) await linkPayment(deps.db, entryId, [chargeId]);
  return true;
}

const sum = <T>(items: T[], value: (item: T) => number) => items.reduce((total, i) => total + value(i), 0);

async function balanceTransactionsOf(stripe: Stripe, entry: LedgerEntry): Promise<Moved[]> {
  if (PAYMENT_KINDS.has(entry.kind)) {
    const charge = await chargeOfPayment(stripe, entry);
    const transaction = charge?.balance_transaction;
    return charge && transaction && typeof transaction !== 'string'
      ? [{ transaction, source: charge.id }]
      : [];
  }
  if (entry.kind === 'refund') return refundTransactions(stripe, entry);
  if (entry.kind === 'refund_failure') return refundFailureTransactions(stripe, entry);
  return disputeTransactions(stripe, entry);
}

async function chargeOfPayment(stripe: Stripe, entry: LedgerEntry): Promise<Stripe.Charge | undefined> {
  if (entry.chargeId)
    return stripe.charges.retrieve(entry.chargeId, { expand: ['balance_transaction'] }, CALL);
  let paymentIntentId = entry.paymentIntentId;
  if (!paymentIntentId && entry.invoiceId) {
    // Since 2025 an invoice names its payments through InvoicePayment objects, not a charge field.
    const payments = await stripe.invoicePayments.list(
      { invoice: entry.invoiceId, status: 'paid', limit: 10 },
      CALL,
    );
    const payment = payments.data[0]?.payment;
    const chargeId = idOf(payment?.charge);
    if (chargeId) return stripe.charges.retrieve(chargeId, { expand: ['balance_transaction'] }, CALL);
    paymentIntentId = idOf(payment?.payment_intent);
  }
  if (!paymentIntentId) return undefined;
  const intent = await stripe.paymentIntents.retrieve(
    paymentIntentId,
    { expand: ['latest_charge.balance_transaction'] },
    CALL,
  );
  const charge = intent.latest_charge;
  return charge && typeof charge !== 'string' ? charge : undefined;
}

/**
 * A refund entry records the growth of the total of every refund ever made on the charge, failed
 * ones included (from the total before to the total in its id: docs/adr/0011-failed-refunds.md);
 * the refunds that made up that growth are the ones it stands for. A failed refund's own balance
 * transaction took the money out like any other; its return is the `refund_failure` entry's.
 */
async function refundTransactions(stripe: Stripe, entry: LedgerEntry): Promise<Moved[]> {
  if (!entry.chargeId) return [];
  const totalAfter = Number(entry._id.split(':').at(-1));
  const totalBefore = totalAfter + entry.amount; // entry.amount is negative
  const refunds: Stripe.Refund[] = [];
  for await (const refund of stripe.refunds.list(
    { charge: entry.chargeId, limit: 100, expand: ['data.balance_transaction'] },
    CALL,
  )) {
    refunds.push(refund);
  }
  refunds.sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
  const moved: Moved[] = [];
  let running = 0;
  for (const refund of refunds) {
    running += refund.amount;
    const transaction = refund.balance_transaction;
    if (running > totalBefore && running <= totalAfter && transaction && typeof transaction !== 'string')
      moved.push({ transaction, source: refund.id });
  }
  return moved;
}

/** A failed (or canceled) refund put its money back: Stripe's `refund_failure` balance transaction. */
async function refundFailureTransactions(stripe: Stripe, entry: LedgerEntry): Promise<Moved[]> {
  const refundId = entry._id.replace(/^refund_failure:/, '');
  const refund = await stripe.refunds.retrieve(refundId, { expand: ['failure_balance_transaction'] }, CALL);
  const transaction = refund.failure_balance_transaction;
  return transaction && typeof transaction !== 'string' ? [{ transaction, source: refund.id }] : [];
}

/** Opening a dispute withdraws the money (and a fee); winning it puts both back. */
async function disputeTransactions(stripe: Stripe, entry: LedgerEntry): Promise<Moved[]> {
  const disputeId = entry._id.replace(/:won$/, '');
  const dispute = await stripe.disputes.retrieve(disputeId, {}, CALL);
  const wanted =
    entry.kind === 'dispute'
      ? (t: Stripe.BalanceTransaction) => t.amount < 0
      : (t: Stripe.BalanceTransaction) => t.amount > 0;
  const transaction = dispute.balance_transactions.find(wanted);
  return transaction ? [{ transaction, source: dispute.id }] : [];
}

/**
 * Settles entries whose Stripe money was not yet booked when they were recorded, or whose lookup
 * failed. Entries older than `withinDays` are left to reconciliation to report.
 */
export async function settleUnsettledEntries(
  deps: SettlementDeps,
  options: { withinDays?: number; limit?: number } = {},
): Promise<{ settled: number; unsettled: number }> {
  const since = new Date(deps.clock.now().getTime() - (options.withinDays ?? 35) * 86_400_000);
  const entries = await ledgerModel(deps.db)
    .find({ settlement: null, occurredAt: { $gte: since } })
    .select({ _id: 1 })
    .limit(options.limit ?? 200)
    .lean();
  let settled = 0;
  for (const { _id } of entries) {
    try {
      if (await settleLedgerEntry(deps, _id)) settled++;
    } catch (error) {
      deps.logger.warn({ err: stripeFailure(error), entryId: _id }, 'settling a ledger entry failed');
    }
  }
  return { settled, unsettled: entries.length - settled };
}

/**
 * Settles each entry as it is recorded. A Stripe outage must not fail the webhook that brought
 * the payment (the payment itself is recorded), so a failure is logged and the sweep retries.
 */
export function subscribeSettlement(events: DomainEvents, deps: SettlementDeps): void {
  events.on('ledger.recorded', async ({ entryId }) => {
    try {
      await settleLedgerEntry(deps, entryId);
    } catch (error) {
      deps.logger.warn(
        { err: stripeFailure(error), entryId },
        'settling a ledger entry failed; the sweep will retry',
      );
    }
  });
}

/** What a log needs of a failed Stripe call: not the raw response Stripe's error object carries. */
function stripeFailure(error: unknown) {
  const { type, code, message, requestId } = error as Record<string, unknown>;
  return { type, code, message, requestId };
}
