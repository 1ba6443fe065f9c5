import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import { idOf, isMissingInStripe } from '../infra/stripe.js';
import type { DomainEvents } from '../shared/domain-events.js';
import {
  type LedgerEntry,
  ledgerModel,
  movedByStripe,
  type Settlement,
  STRIPE_PAYMENT_KINDS,
  settlementDueModel,
} from './ledger.model.js';
import { linkPayment, markSettlementDue } from './ledger.service.js';

export interface SettlementDeps {
  db: Connection;
  stripe: Stripe;
  clock: Clock;
  logger: Logger;
}

// Settling runs inside webhook handling: a slow Stripe must not hold the reply past Stripe's own
// patience, and what fails here is retried by the sweep anyway.
const CALL = { timeout: 5_000, maxNetworkRetries: 1 };

const PAYMENT_KINDS = new Set<string>(STRIPE_PAYMENT_KINDS);

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
  // A $0 or out-of-band invoice: Stripe moved nothing and never will, so there is nothing to ask.
  if (!movedByStripe(entry.kind)) return false;
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
  // By `_id` alone, the one filter FerretDB answers from its index (`settlement: null` as well made
  // every settlement read the whole ledger). The check above decided; a second settling at the same
  // time read the same Stripe objects, so it writes the same figures.
  await ledgerModel(deps.db).updateOne(
    { _id: entryId },
    { $set: { settlement, ...(chargeId ? { chargeId } : {}) } },
  );
  // Enrichment only: refunds and disputes find their payment from the events' own ids first.
  if (PAYMENT_KINDS.has(entry.kind))
    await linkPayment(deps.db, entryId, [chargeId, ...moved.map((m) => m.source)]);
  await settlementDueModel(deps.db).deleteOne({ _id: entryId });
  return true;
}

const sum = <T>(items: T[], value: (item: T) => number) => items.reduce((total, i) => total + value(i), 0);

async function balanceTransactionsOf(stripe: Stripe, entry: LedgerEntry): Promise<Moved[]> {
  if (PAYMENT_KINDS.has(entry.kind)) {
    const charges = await chargesOfPayment(stripe, entry);
    const moved: Moved[] = [];
    for (const charge of charges) {
      const transaction = charge.balance_transaction;
      // Every charge booked or none: a settlement is written once, so half of one would stay half.
      if (!transaction || typeof transaction === 'string') return [];
      moved.push({ transaction, source: charge.id });
    }
    return moved;
  }
  if (entry.kind === 'refund') return refundTransactions(stripe, entry);
  if (entry.kind === 'refund_failure') return refundFailureTransactions(stripe, entry);
  return disputeTransactions(stripe, entry);
}

const withTransaction = { expand: ['balance_transaction'] };

/**
 * The charges that paid an entry. An invoice may be paid by several payments (a partial payment
 * then the rest, or several PaymentIntents): each paid one is a charge of it. Payments recorded
 * outside Stripe (`payment_record`) moved nothing in Stripe and are left out.
 */
async function chargesOfPayment(stripe: Stripe, entry: LedgerEntry): Promise<Stripe.Charge[]> {
  if (entry.chargeId) return [await stripe.charges.retrieve(entry.chargeId, withTransaction, CALL)];
  if (entry.paymentIntentId) return latestChargeOf(stripe, entry.paymentIntentId);
  if (!entry.invoiceId) return [];
  // Since 2025 an invoice names its payments through InvoicePayment objects, not a charge field.
  const charges: Stripe.Charge[] = [];
  for await (const invoicePayment of stripe.invoicePayments.list(
    { invoice: entry.invoiceId, status: 'paid', limit: 100 },
    CALL,
  )) {
    const payment = invoicePayment.payment;
    const chargeId = idOf(payment?.charge);
    const paymentIntentId = idOf(payment?.payment_intent);
    if (chargeId) charges.push(await stripe.charges.retrieve(chargeId, withTransaction, CALL));
    else if (paymentIntentId) charges.push(...(await latestChargeOf(stripe, paymentIntentId)));
  }
  return charges;
}

async function latestChargeOf(stripe: Stripe, paymentIntentId: string): Promise<Stripe.Charge[]> {
  const intent = await stripe.paymentIntents.retrieve(
    paymentIntentId,
    { expand: ['latest_charge.balance_transaction'] },
    CALL,
  );
  const charge = intent.latest_charge;
  return charge && typeof charge !== 'string' ? [charge] : [];
}

/**
 * A refund entry records the growth of the total of every refund ever made on the charge, failed
 * ones included (from the total before to the total in its id: docs/adr/0013-failed-refunds.md);
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
 * failed. It reads the `settlement_due` list (only unsettled entries of kinds Stripe moves; a $0
 * or out-of-band invoice is never on it), never the ledger, and tries the least recently tried
 * first (never tried before all), so entries Stripe never books rotate to the back rather than
 * hold the first `limit` places. Entries older than `withinDays` leave the list: reconciliation
 * reports them.
 */
export async function settleUnsettledEntries(
  deps: SettlementDeps,
  options: { withinDays?: number; limit?: number } = {},
): Promise<{ settled: number; unsettled: number }> {
  const Due = settlementDueModel(deps.db);
  const since = new Date(deps.clock.now().getTime() - (options.withinDays ?? 35) * 86_400_000);
  const due = await Due.find().lean();
  const stale = due.filter((d) => d.occurredAt < since).map((d) => d._id);
  if (stale.length > 0) await Due.deleteMany({ _id: { $in: stale } });
  const tried = (d: (typeof due)[number]) => d.triedAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  const next = due
    .filter((d) => d.occurredAt >= since)
    .sort((a, b) => tried(a) - tried(b) || b.occurredAt.getTime() - a.occurredAt.getTime())
    .slice(0, options.limit ?? 200);
  let settled = 0;
  let unsettled = 0;
  for (const { _id } of next) {
    try {
      if (await settleLedgerEntry(deps, _id)) {
        settled++;
        await Due.deleteOne({ _id }); // settled here, or earlier by a call that died before this
        continue;
      }
    } catch (error) {
      deps.logger.warn({ err: stripeFailure(error), entryId: _id }, 'settling a ledger entry failed');
    }
    const entry = await ledgerModel(deps.db).findById(_id).select({ kind: 1 }).lean();
    // A marker whose entry never got written (a crash in between), or that never settles by kind.
    if (!entry || !movedByStripe(entry.kind)) await Due.deleteOne({ _id });
    else {
      await Due.updateOne({ _id }, { $set: { triedAt: deps.clock.now() } });
      unsettled++;
    }
  }
  return { settled, unsettled };
}

/** Lists every unsettled entry of a kind Stripe moves for the sweep: once per database, at start. */
export async function backfillSettlementDue(db: Connection): Promise<number> {
  let done = 0;
  const cursor = ledgerModel(db)
    .find({ settlement: null })
    .select({ kind: 1, occurredAt: 1 })
    .lean<LedgerEntry[]>()
    .cursor();
  for await (const entry of cursor) {
    if (!movedByStripe(entry.kind)) continue;
    await markSettlementDue(db, entry._id, entry.occurredAt);
    done++;
  }
  return done;
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
