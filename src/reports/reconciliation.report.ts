import type Stripe from 'stripe';
import { idOf, isMissingInStripe } from '../infra/stripe.js';
import { type LedgerEntry, ledgerModel, movedByStripe } from '../ledger/ledger.model.js';
import { type SettlementDeps, settleLedgerEntry } from '../ledger/settlement.service.js';

const DAY = 86_400_000;
/**
 * Stripe's reporting categories that are supporters' money; the rest (payouts, fees) is context.
 * `refund_failure` is a refund's money coming back (its own ledger entry, `refund_failure:<refund>`).
 */
const SUPPORTER_CATEGORIES = new Set(['charge', 'refund', 'refund_failure', 'dispute', 'dispute_reversal']);

export interface ReconciliationReport {
  /** Balance transactions matched to a ledger entry with the same amount and currency. */
  matched: number;
  /** Money Stripe moved for which we have no ledger entry. */
  missingOurs: {
    balanceTransactionId: string;
    category: string;
    source: string | null;
    amount: number;
    currency: string;
    settlementAmount: number;
    settlementCurrency: string;
    created: string;
  }[];
  /** Ledger entries for which Stripe reports no money moved. */
  missingStripe: { entryId: string; kind: string; amount: number; currency: string; occurredAt: string }[];
  /** Both sides know the money, but not the same amount. Amounts in the entry's currency. */
  amountDifferences: {
    entryId: string;
    kind: string;
    currency: string;
    ours: number;
    stripe: number;
    stripeCurrency: string;
    balanceTransactionIds: string[];
  }[];
  /** Stripe activity that is not supporters' money (payouts, Stripe fees), summed for context. */
  otherActivity: { category: string; currency: string; count: number; net: number }[];
  stripeTransactions: number;
  /**
   * What could not be checked because a Stripe call failed (the rest of the report stands): the
   * balance transaction list (`balance_transactions`: money missing on our side may be unlisted,
   * and entries it would have matched are here, not in `missingStripe`), or one entry's lookup.
   */
  unchecked: { what: UncheckedWhat; reference: string; error: string }[];
}

type UncheckedWhat = 'balance_transactions' | 'settlement' | 'balance_transaction';

/** A Stripe call failed: what Stripe said, for the person reading the report. */
export const stripeFailure = (error: unknown) => {
  const e = error as { type?: string; message?: string };
  return [e.type, e.message].filter(Boolean).join(': ') || String(error);
};

/** The transaction's amount in the currency the supporter paid in, signed as our ledger signs it. */
export function presentmentAmount(bt: Stripe.BalanceTransaction): { amount: number; currency: string } {
  const source =
    bt.source && typeof bt.source === 'object'
      ? (bt.source as { amount?: number; currency?: string })
      : undefined;
  if (source?.amount !== undefined && source.currency) {
    const sign = bt.amount < 0 ? -1 : 1;
    return { amount: sign * source.amount, currency: source.currency };
  }
  // Without the source object the rate converts back; exact whenever no conversion happened.
  return {
    amount: bt.exchange_rate ? Math.round(bt.amount / bt.exchange_rate) : bt.amount,
    currency: bt.currency,
  };
}

/**
 * An entry settled with balance transactions Stripe booked outside the listed window (a delayed
 * payment method): fetched one by one, so they are compared rather than reported missing.
 */
async function bookedOutsideWindow(stripe: Stripe, ids: string[] | undefined) {
  let booked: Booked | undefined;
  for (const id of ids ?? []) {
    const bt = await stripe.balanceTransactions
      .retrieve(id, { expand: ['source'] })
      .catch((error) => (isMissingInStripe(error) ? undefined : Promise.reject(error)));
    if (bt) booked = addBooked(booked, bt);
  }
  return booked;
}

/** Stripe's side of one ledger entry: its transactions, summed in the currency the supporter paid. */
interface Booked {
  amount: number;
  currency: string;
  ids: string[];
}
function addBooked(booked: Booked | undefined, bt: Stripe.BalanceTransaction): Booked {
  const money = presentmentAmount(bt);
  const sum = booked ?? { amount: 0, currency: money.currency, ids: [] };
  sum.amount += money.amount;
  sum.ids.push(bt.id);
  return sum;
}

const sourceId = (bt: Stripe.BalanceTransaction) => idOf(bt.source) ?? null;

/**
 * Our ledger against Stripe's balance transactions for [from, to). Entries not yet settled are
 * settled first, so an entry whose fee lookup failed is not mistaken for a missing one. Stripe's
 * list is read a day wider on each side: money recorded just before midnight may be booked by
 * Stripe just after, and belongs to the period its ledger entry is in.
 */
export async function reconcileWithStripe(
  deps: SettlementDeps,
  period: { from: Date; to: Date },
): Promise<ReconciliationReport> {
  const wide = { from: new Date(period.from.getTime() - DAY), to: new Date(period.to.getTime() + DAY) };
  const Ledger = ledgerModel(deps.db);
  const inPeriod = (at: Date) => at >= period.from && at < period.to;

  const report: ReconciliationReport = {
    matched: 0,
    missingOurs: [],
    missingStripe: [],
    amountDifferences: [],
    otherActivity: [],
    stripeTransactions: 0,
    unchecked: [],
  };
  // Each Stripe call that fails marks what it could not check; the report goes on without it.
  const uncheckable = (what: UncheckedWhat, reference: string) => (error: unknown) => {
    report.unchecked.push({ what, reference, error: stripeFailure(error) });
    return undefined;
  };
  const settleFailed = new Set<string>();
  const unsettled = await Ledger.find({ occurredAt: { $gte: period.from, $lt: period.to }, settlement: null })
    .select({ _id: 1 })
    .lean();
  for (const { _id } of unsettled)
    await settleLedgerEntry(deps, _id).catch((error) => {
      settleFailed.add(_id);
      uncheckable('settlement', _id)(error);
    });

  // A $0 or out-of-band invoice has nothing in Stripe's balance to match (ledger README); the
  // revenue report shows out-of-band money apart.
  const entries = (
    await Ledger.find({ occurredAt: { $gte: wide.from, $lt: wide.to } }).lean<LedgerEntry[]>()
  ).filter((entry) => movedByStripe(entry.kind));
  const entryOfTransaction = new Map<string, LedgerEntry>();
  for (const entry of entries)
    for (const id of entry.settlement?.balanceTransactionIds ?? []) entryOfTransaction.set(id, entry);

  const stripeByEntry = new Map<string, Booked>();
  const other = new Map<string, ReconciliationReport['otherActivity'][number]>();
  let listed = true;
  const transactions = async function* () {
    try {
      yield* deps.stripe.balanceTransactions.list({
        created: { gte: Math.floor(wide.from.getTime() / 1000), lt: Math.floor(wide.to.getTime() / 1000) },
        limit: 100,
        expand: ['data.source'],
      });
    } catch (error) {
      listed = false;
      uncheckable('balance_transactions', 'list')(error);
    }
  };
  for await (const bt of transactions()) {
    const created = new Date(bt.created * 1000);
    if (!SUPPORTER_CATEGORIES.has(bt.reporting_category)) {
      if (!inPeriod(created)) continue;
      const key = `${bt.reporting_category}|${bt.currency}`;
      const sum = other.get(key) ?? {
        category: bt.reporting_category,
        currency: bt.currency,
        count: 0,
        net: 0,
      };
      sum.count++;
      sum.net += bt.net;
      other.set(key, sum);
      continue;
    }
    const entry = entryOfTransaction.get(bt.id);
    if (entry) stripeByEntry.set(entry._id, addBooked(stripeByEntry.get(entry._id), bt));
    else if (inPeriod(created)) {
      const money = presentmentAmount(bt);
      report.stripeTransactions++;
      report.missingOurs.push({
        balanceTransactionId: bt.id,
        category: bt.reporting_category,
        source: sourceId(bt),
        amount: money.amount,
        currency: money.currency,
        settlementAmount: bt.amount,
        settlementCurrency: bt.currency,
        created: created.toISOString(),
      });
    }
  }

  // Money Stripe booked in the period for an entry recorded well outside it (a delayed payment
  // method) is not missing: that entry is reconciled, amounts compared, in its own period.
  if (report.missingOurs.length > 0) {
    const elsewhere = new Set(
      (
        await Ledger.find({
          'settlement.balanceTransactionIds': { $in: report.missingOurs.map((m) => m.balanceTransactionId) },
        })
          .select({ 'settlement.balanceTransactionIds': 1 })
          .lean<LedgerEntry[]>()
      ).flatMap((e) => e.settlement?.balanceTransactionIds ?? []),
    );
    report.matched += report.missingOurs.filter((m) => elsewhere.has(m.balanceTransactionId)).length;
    report.missingOurs = report.missingOurs.filter((m) => !elsewhere.has(m.balanceTransactionId));
  }

  const booked = new Map<string, Booked | undefined>();
  for (const entry of entries) {
    if (!inPeriod(entry.occurredAt)) continue;
    const ids = entry.settlement?.balanceTransactionIds;
    // After a list cut short, an entry seen only in part is read one transaction at a time.
    const seen = stripeByEntry.get(entry._id);
    const whole = seen && (listed || seen.ids.length === ids?.length) ? seen : undefined;
    let failed = false;
    const stripe =
      whole ??
      (await bookedOutsideWindow(deps.stripe, ids).catch((error) => {
        failed = true;
        return uncheckable('balance_transaction', entry._id)(error);
      }));
    if (!stripe && (failed || settleFailed.has(entry._id))) continue;
    if (!stripe && !listed) {
      report.unchecked.push({
        what: 'balance_transactions',
        reference: entry._id,
        error: 'not found in the part of the list Stripe answered',
      });
      continue;
    }
    booked.set(entry._id, stripe);
  }
  const refundsMatched = refundChainsThatMatch(entries, booked);
  for (const entry of entries) {
    // Entries a failing Stripe call left unchecked are listed as such, not judged.
    if (!inPeriod(entry.occurredAt) || !booked.has(entry._id)) continue;
    const stripe = booked.get(entry._id);
    if (refundsMatched.has(entry.chargeId ?? '') && entry.kind === 'refund') {
      report.stripeTransactions += stripe?.ids.length ?? 0;
      report.matched += stripe?.ids.length ?? 0;
      continue;
    }
    if (!stripe) {
      report.missingStripe.push({
        entryId: entry._id,
        kind: entry.kind,
        amount: entry.amount,
        currency: entry.currency,
        occurredAt: entry.occurredAt.toISOString(),
      });
      continue;
    }
    report.stripeTransactions += stripe.ids.length;
    if (stripe.amount === entry.amount && stripe.currency === entry.currency)
      report.matched += stripe.ids.length;
    else
      report.amountDifferences.push({
        entryId: entry._id,
        kind: entry.kind,
        currency: entry.currency,
        ours: entry.amount,
        stripe: stripe.amount,
        stripeCurrency: stripe.currency,
        balanceTransactionIds: stripe.ids,
      });
  }
  report.otherActivity = [...other.values()].sort(
    (a, b) => a.category.localeCompare(b.category) || a.currency.localeCompare(b.currency),
  );
  return report;
}

/**
 * The charges whose refund entries, together, are what Stripe refunded. A refund delivered before
 * the refund failure it follows (docs/adr/0013-failed-refunds.md) can cut a charge's refund
 * chain into steps that no single refund's balance transactions add up to, while the whole
 * chain still does: such a charge is matched as a whole; any other difference is reported.
 */
function refundChainsThatMatch(entries: LedgerEntry[], booked: Map<string, Booked | undefined>): Set<string> {
  const sums = new Map<string, { ours: number; stripe: number; currency: string; sameCurrency: boolean }>();
  for (const entry of entries) {
    if (entry.kind !== 'refund' || !entry.chargeId || !booked.has(entry._id)) continue;
    const stripe = booked.get(entry._id);
    const sum = sums.get(entry.chargeId) ?? {
      ours: 0,
      stripe: 0,
      currency: entry.currency,
      sameCurrency: true,
    };
    sum.ours += entry.amount;
    sum.stripe += stripe?.amount ?? 0;
    sum.sameCurrency &&= entry.currency === sum.currency && (!stripe || stripe.currency === sum.currency);
    sums.set(entry.chargeId, sum);
  }
  return new Set([...sums].filter(([, s]) => s.sameCurrency && s.ours === s.stripe).map(([id]) => id));
}

export const RECONCILIATION_COLUMNS = [
  'problem',
  'reference',
  'kind',
  'currency',
  'ours',
  'stripe',
  'at',
  'stripe_source',
] as const;

/** One line per problem found, for a spreadsheet or a nightly check; a clean period has none. */
export function reconciliationCsvLines(report: ReconciliationReport) {
  return [
    ...report.missingOurs.map((m) => ({
      problem: 'missing_ours',
      reference: m.balanceTransactionId,
      kind: m.category,
      currency: m.currency,
      ours: '',
      stripe: m.amount,
      at: m.created,
      stripe_source: m.source ?? '',
    })),
    ...report.missingStripe.map((m) => ({
      problem: 'missing_stripe',
      reference: m.entryId,
      kind: m.kind,
      currency: m.currency,
      ours: m.amount,
      stripe: '',
      at: m.occurredAt,
      stripe_source: '',
    })),
    ...report.unchecked.map((u) => ({
      problem: 'unchecked',
      reference: u.reference,
      kind: u.what,
      currency: '',
      ours: '',
      stripe: '',
      at: '',
      stripe_source: u.error,
    })),
    ...report.amountDifferences.map((d) => ({
      problem: 'amount_difference',
      reference: d.entryId,
      kind: d.kind,
      currency: d.currency,
      ours: d.ours,
      stripe: d.stripe,
      at: '',
      stripe_source: d.balanceTransactionIds.join(' '),
    })),
  ];
}
