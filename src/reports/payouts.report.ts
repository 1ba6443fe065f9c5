import type Stripe from 'stripe';
import { idOf, isMissingInStripe } from '../infra/stripe.js';
import { type LedgerEntry, ledgerModel } from '../ledger/ledger.model.js';
import { findPayment } from '../ledger/ledger.service.js';
import { type SettlementDeps, settleLedgerEntry } from '../ledger/settlement.service.js';
import { calendarKeys } from '../shared/time.js';
import { presentmentAmount, stripeFailure } from './reconciliation.report.js';

// What each Stripe payout carried, against what our ledger booked for the same balance
// transactions. Stripe itemises only automatic payouts (`balance_transactions.list({payout})`);
// a manual payout is listed without contents. Columns and sources: docs/operations/finance.md.

/** Supporters' money: what the ledger books (the rest of a payout is Stripe's fees and the like). */
const SUPPORTER = new Set(['charge', 'refund', 'refund_failure', 'dispute', 'dispute_reversal']);
const GROSS = new Set(['charge', 'payment']);
const REFUNDS = new Set(['refund', 'refund_failure', 'payment_refund', 'payment_failure_refund']);
const DISPUTES = new Set(['dispute', 'dispute_reversal']);
/** A failed or canceled payout's money, back in the balance and paid out again. */
const RETURNED = new Set(['payout_failure', 'payout_cancel']);

export interface PayoutLine {
  payoutId: string;
  /** Stripe's status: `paid`, `pending`, `in_transit`, `failed` or `canceled`. */
  status: string;
  automatic: boolean;
  /** The day Stripe expects it in the bank, in the newsroom's time zone. */
  arrivalDate: string;
  created: string;
  currency: string;
  /** What the payout sends to the bank. */
  amount: number;
  /** Whether Stripe listed the transactions it carried (automatic payouts only). */
  itemised: boolean;
  transactions: number;
  charges: number;
  refunds: number;
  disputes: number;
  /** Every Stripe fee the payout bore: on its transactions and fee transactions of their own; positive. */
  fees: number;
  /** Earlier failed or canceled payouts whose money came back and left again in this one. */
  returnedPayouts: number;
  /** Anything else (adjustments, transfers, top-ups). */
  other: number;
  /** Sum of the transactions' net: equals `amount` when the payout is whole. */
  net: number;
  /** Supporters' money in it as Stripe booked it (net of fees): charges, refunds, disputes. */
  supporterNet: number;
  /** The same transactions as our ledger settled them; differs from `supporterNet` by `unbooked`. */
  ledgerNet: number;
  /** Supporters' money in it that no ledger entry books (net). */
  unbooked: number;
  /** A failed payout: why, and the transaction that returned the money to the balance. */
  failure: { code: string | null; message: string | null; returnedBy: string | null } | null;
  /** Nothing unbooked, no amount differences, contents sum to the amount, nothing unchecked. */
  clean: boolean;
}

export type PayoutProblem =
  | {
      problem: 'missing_ours';
      payoutId: string;
      balanceTransactionId: string;
      category: string;
      source: string | null;
      /** In the currency the supporter paid, signed as the ledger signs it. */
      amount: number;
      currency: string;
    }
  | {
      problem: 'amount_difference';
      payoutId: string;
      entryId: string;
      kind: string;
      currency: string;
      ours: number;
      stripe: number;
      balanceTransactionIds: string[];
    }
  | {
      problem: 'total_mismatch';
      payoutId: string;
      currency: string;
      amount: number;
      net: number;
    };

export interface PayoutsReport {
  payouts: PayoutLine[];
  problems: PayoutProblem[];
  /** A Stripe call that failed: that payout (or the list) was not checked; the rest stands. */
  unchecked: { what: 'payouts' | 'payout_transactions' | 'settlement'; reference: string; error: string }[];
}

type Transaction = Stripe.BalanceTransaction;

/**
 * Payouts expected in the bank in [from, to) (Stripe's `arrival_date`), each with the balance
 * transactions it carried, every page of both lists.
 */
export async function payoutsReport(
  deps: SettlementDeps & { timeZone: string },
  period: { from: Date; to: Date },
): Promise<PayoutsReport> {
  const report: PayoutsReport = { payouts: [], problems: [], unchecked: [] };
  const payouts: { payout: Stripe.Payout; transactions: Transaction[] | null }[] = [];
  try {
    for await (const payout of deps.stripe.payouts.list({
      arrival_date: { gte: seconds(period.from), lt: seconds(period.to) },
      limit: 100,
    })) {
      payouts.push({ payout, transactions: null });
    }
  } catch (error) {
    report.unchecked.push({ what: 'payouts', reference: 'list', error: stripeFailure(error) });
  }
  for (const item of payouts) {
    if (!item.payout.automatic) continue; // Stripe cannot say what a manual payout carried
    try {
      const transactions: Transaction[] = [];
      for await (const bt of deps.stripe.balanceTransactions.list({
        payout: item.payout.id,
        limit: 100,
        expand: ['data.source'],
      })) {
        // The list may hold the payout's own withdrawal: that is the payout, not its contents.
        if (idOf(bt.source) !== item.payout.id) transactions.push(bt);
      }
      item.transactions = transactions;
    } catch (error) {
      report.unchecked.push({
        what: 'payout_transactions',
        reference: item.payout.id,
        error: stripeFailure(error),
      });
    }
  }

  const supporterTransactions = payouts
    .flatMap((p) => p.transactions ?? [])
    .filter((bt) => SUPPORTER.has(bt.reporting_category));
  const entryOf = await ledgerEntriesOf(deps, supporterTransactions, report);

  for (const { payout, transactions } of payouts) {
    const line = contentsOf(payout, transactions ?? [], deps.timeZone);
    line.itemised = transactions !== null && payout.automatic;
    const problems = compareWithLedger(payout, transactions ?? [], entryOf, line);
    if (line.itemised && payout.status !== 'canceled' && line.net !== payout.amount)
      problems.push({
        problem: 'total_mismatch',
        payoutId: payout.id,
        currency: payout.currency,
        amount: payout.amount,
        net: line.net,
      });
    line.clean =
      line.itemised && problems.length === 0 && !report.unchecked.some((u) => u.reference === payout.id);
    report.problems.push(...problems);
    report.payouts.push(line);
  }
  report.payouts.sort(
    (a, b) => a.arrivalDate.localeCompare(b.arrivalDate) || a.payoutId.localeCompare(b.payoutId),
  );
  return report;
}

const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

/** Stripe's side: what the payout carried, by kind of money, in the payout's currency. */
function contentsOf(payout: Stripe.Payout, transactions: Transaction[], timeZone: string): PayoutLine {
  const line: PayoutLine = {
    payoutId: payout.id,
    status: payout.status,
    automatic: payout.automatic,
    arrivalDate: calendarKeys(new Date(payout.arrival_date * 1000), timeZone).day,
    created: new Date(payout.created * 1000).toISOString(),
    currency: payout.currency,
    amount: payout.amount,
    itemised: false,
    transactions: transactions.length,
    charges: 0,
    refunds: 0,
    disputes: 0,
    fees: 0,
    returnedPayouts: 0,
    other: 0,
    net: 0,
    supporterNet: 0,
    ledgerNet: 0,
    unbooked: 0,
    failure:
      payout.status === 'failed' || payout.status === 'canceled'
        ? {
            code: payout.failure_code,
            message: payout.failure_message,
            returnedBy: idOf(payout.failure_balance_transaction) ?? null,
          }
        : null,
    clean: false,
  };
  for (const bt of transactions) {
    const category = bt.reporting_category;
    line.fees += bt.fee;
    line.net += bt.net;
    if (SUPPORTER.has(category)) line.supporterNet += bt.net;
    if (category === 'fee')
      line.fees -= bt.amount; // a fee transaction's amount is negative
    else if (GROSS.has(category)) line.charges += bt.amount;
    else if (REFUNDS.has(category)) line.refunds += bt.amount;
    else if (DISPUTES.has(category)) line.disputes += bt.amount;
    else if (RETURNED.has(bt.type)) line.returnedPayouts += bt.amount;
    else line.other += bt.amount;
  }
  return line;
}

/**
 * The ledger entries that settled these transactions. One scan for the lot (a report may scan);
 * a transaction no entry names yet may belong to an entry not settled yet, found by primary key
 * from the transaction's source and settled here, as reconciliation does.
 */
async function ledgerEntriesOf(
  deps: SettlementDeps,
  transactions: Transaction[],
  report: PayoutsReport,
): Promise<Map<string, LedgerEntry>> {
  const entryOf = new Map<string, LedgerEntry>();
  // On FerretDB every query but `{_id}` reads the whole ledger: one query per 10,000 transactions
  // (a quarter's payouts is usually one), each a few hundred kilobytes of ids.
  const read = async (ids: string[]) => {
    for (let i = 0; i < ids.length; i += 10_000) {
      const entries = await ledgerModel(deps.db)
        .find({ 'settlement.balanceTransactionIds': { $in: ids.slice(i, i + 10_000) } })
        .lean<LedgerEntry[]>();
      for (const entry of entries)
        for (const id of entry.settlement?.balanceTransactionIds ?? []) entryOf.set(id, entry);
    }
  };
  await read(transactions.map((bt) => bt.id));
  const unmatched = transactions.filter((bt) => !entryOf.has(bt.id));
  if (unmatched.length === 0) return entryOf;
  let settledAny = false;
  for (const bt of unmatched) {
    for (const entry of await candidatesFor(deps, bt)) {
      if (entry.settlement) continue;
      try {
        settledAny = (await settleLedgerEntry(deps, entry._id)) || settledAny;
      } catch (error) {
        if (isMissingInStripe(error)) continue;
        report.unchecked.push({ what: 'settlement', reference: entry._id, error: stripeFailure(error) });
      }
    }
  }
  if (settledAny) await read(unmatched.map((bt) => bt.id));
  return entryOf;
}

/** The entries a transaction's source names, by primary key (a refund: its charge's refunds). */
async function candidatesFor(deps: SettlementDeps, bt: Transaction): Promise<LedgerEntry[]> {
  const Ledger = ledgerModel(deps.db);
  const source =
    bt.source && typeof bt.source === 'object' ? (bt.source as unknown as Record<string, unknown>) : {};
  const sourceId = idOf(bt.source);
  if (!sourceId) return [];
  const byId = async (id: string) => {
    const entry = await Ledger.findById(id).lean<LedgerEntry>();
    return entry ? [entry] : [];
  };
  switch (bt.reporting_category) {
    case 'charge': {
      const payment = await findPayment(deps.db, [sourceId, idOf(source.payment_intent as string)]);
      return payment ? [payment] : [];
    }
    case 'dispute':
      return byId(sourceId);
    case 'dispute_reversal':
      return byId(`${sourceId}:won`);
    case 'refund_failure':
      return byId(`refund_failure:${sourceId}`);
    case 'refund': {
      // Only for a charge of ours (a primary-key lookup): another app's refunds cost no scan.
      const chargeId = idOf(source.charge as string);
      const paymentIntent = idOf(source.payment_intent as string);
      const payment = chargeId ? await findPayment(deps.db, [chargeId, paymentIntent]) : null;
      return payment ? Ledger.find({ chargeId, kind: 'refund' }).lean<LedgerEntry[]>() : [];
    }
    default:
      return [];
  }
}

/**
 * Our side of one payout. Each entry is compared whole when all its transactions are in this
 * payout (the refunds of one charge together: a chain of refund entries may be cut differently
 * from Stripe's refunds, docs/adr/0013-failed-refunds.md); an entry whose transactions fell in two
 * payouts is counted at Stripe's figures here and compared by the reconciliation report.
 */
function compareWithLedger(
  payout: Stripe.Payout,
  transactions: Transaction[],
  entryOf: Map<string, LedgerEntry>,
  line: PayoutLine,
): PayoutProblem[] {
  const problems: PayoutProblem[] = [];
  const inPayout = new Set(transactions.map((bt) => bt.id));
  const groups = new Map<
    string,
    { entries: Map<string, LedgerEntry>; stripe: number; currency: string; ids: string[]; net: number }
  >();
  for (const bt of transactions) {
    if (!SUPPORTER.has(bt.reporting_category)) continue;
    const entry = entryOf.get(bt.id);
    if (!entry) {
      const money = presentmentAmount(bt);
      line.unbooked += bt.net;
      problems.push({
        problem: 'missing_ours',
        payoutId: payout.id,
        balanceTransactionId: bt.id,
        category: bt.reporting_category,
        source: idOf(bt.source) ?? null,
        amount: money.amount,
        currency: money.currency,
      });
      continue;
    }
    const key = entry.kind === 'refund' && entry.chargeId ? `refunds:${entry.chargeId}` : entry._id;
    const money = presentmentAmount(bt);
    const group = groups.get(key) ?? {
      entries: new Map<string, LedgerEntry>(),
      stripe: 0,
      currency: money.currency,
      ids: [] as string[],
      net: 0,
    };
    group.entries.set(entry._id, entry);
    group.stripe += money.amount;
    group.ids.push(bt.id);
    group.net += bt.net;
    groups.set(key, group);
  }
  for (const group of groups.values()) {
    const entries = [...group.entries.values()];
    const whole = entries.every((e) =>
      (e.settlement?.balanceTransactionIds ?? []).every((id) => inPayout.has(id)),
    );
    if (!whole) {
      line.ledgerNet += group.net;
      continue;
    }
    line.ledgerNet += entries.reduce((sum, e) => sum + (e.settlement?.net ?? 0), 0);
    const ours = entries.reduce((sum, e) => sum + e.amount, 0);
    const currency = entries[0]!.currency;
    if (ours !== group.stripe || currency !== group.currency)
      problems.push({
        problem: 'amount_difference',
        payoutId: payout.id,
        entryId: entries.map((e) => e._id).join(' '),
        kind: entries[0]!.kind,
        currency,
        ours,
        stripe: group.stripe,
        balanceTransactionIds: group.ids,
      });
  }
  return problems;
}

export const PAYOUT_COLUMNS = [
  'payout',
  'status',
  'arrival_date',
  'currency',
  'amount',
  'charges',
  'refunds',
  'disputes',
  'fees',
  'returned_payouts',
  'other',
  'net',
  'supporter_net',
  'ledger_net',
  'unbooked',
  'clean',
  'problems',
] as const;

const describe = (p: PayoutProblem) =>
  p.problem === 'missing_ours'
    ? `missing_ours ${p.balanceTransactionId} (${p.category} ${p.source ?? ''} ${p.amount} ${p.currency})`
    : p.problem === 'amount_difference'
      ? `amount_difference ${p.entryId}: ours ${p.ours} stripe ${p.stripe} ${p.currency}`
      : `total_mismatch: amount ${p.amount} net ${p.net}`;

/** One line per payout; its problems (and a failure's reason) in the last column. */
export function payoutCsvLines(report: PayoutsReport) {
  return report.payouts.map((p) => ({
    payout: p.payoutId,
    status: p.status,
    arrival_date: p.arrivalDate,
    currency: p.currency,
    amount: p.amount,
    charges: p.charges,
    refunds: p.refunds,
    disputes: p.disputes,
    fees: p.fees,
    returned_payouts: p.returnedPayouts,
    other: p.other,
    net: p.net,
    supporter_net: p.supporterNet,
    ledger_net: p.ledgerNet,
    unbooked: p.unbooked,
    clean: String(p.clean),
    problems: [
      ...(p.itemised
        ? ([] as string[])
        : [p.automatic ? 'unchecked: Stripe did not list its transactions' : 'manual payout: not itemised']),
      ...(p.failure ? [`${p.status}: ${p.failure.code ?? ''} ${p.failure.message ?? ''}`.trim()] : []),
      ...report.problems.filter((x) => x.payoutId === p.payoutId).map(describe),
    ].join('; '),
  }));
}
