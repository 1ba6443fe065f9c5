import type { Connection } from 'mongoose';
import { type LedgerEntry, ledgerModel, STRIPE_PAYMENT_KINDS } from '../ledger/ledger.model.js';

/** What Stripe booked, in one settlement currency: the amount, its fees, and what is paid out. */
export interface SettledMoney {
  currency: string;
  amount: number;
  fees: number;
  net: number;
}

export interface RevenueRow {
  period: string; // YYYY-MM-DD or YYYY-MM in the newsroom's time zone
  currency: string;
  gross: number; // payments, gift purchases (minor units)
  refunds: number; // negative
  disputes: number; // negative when lost or pending, back up when won
  net: number; // gross + refunds + disputes: Stripe's money
  payments: number; // how many, through Stripe
  /** Invoices paid outside Stripe (marked paid out of band): money received, not Stripe revenue. */
  outOfBand: number;
  /** Stripe's side of the same entries, per settlement currency. Dispute fees are fees too. */
  settlement: SettledMoney[];
  /** Entries Stripe has not booked yet (or whose lookup failed): not in `settlement`. */
  unsettled: number;
}

export interface RevenueReport {
  rows: RevenueRow[];
  /** The whole range per settlement currency: what should reach the bank. */
  settlementTotals: SettledMoney[];
}

const GROSS = new Set<string>(STRIPE_PAYMENT_KINDS);

function addSettled(list: SettledMoney[], currency: string, amount: number, fees: number, net: number) {
  let money = list.find((m) => m.currency === currency);
  if (!money) {
    money = { currency, amount: 0, fees: 0, net: 0 };
    list.push(money);
    list.sort((a, b) => a.currency.localeCompare(b.currency));
  }
  money.amount += amount;
  money.fees += fees;
  money.net += net;
}

/**
 * Revenue per day or month and currency, summed over the ledger (never over member fields). The
 * day and month keys were cut in the newsroom's time zone when each entry was written. Summed
 * here over a streamed cursor rather than in `$group`: FerretDB miscounts groups whose key or
 * sum reads a nested or missing field (the settlement), and a cent off is not an option.
 */
export async function revenueReport(
  db: Connection,
  options: { by: 'day' | 'month'; from: string; to: string },
): Promise<RevenueReport> {
  const field = options.by;
  // Keys compare as strings: a month bound widens to its days ("2026-12" → up to "2026-12-31"),
  // a day bound narrows to its month when grouping by month.
  const from = field === 'month' ? options.from.slice(0, 7) : options.from;
  const to =
    field === 'month' ? options.to.slice(0, 7) : options.to.length === 7 ? `${options.to}-31` : options.to;
  const rows = new Map<string, RevenueRow>();
  const settlementTotals: SettledMoney[] = [];
  const entries = ledgerModel(db)
    .find({ [field]: { $gte: from, $lte: to } })
    .select({ [field]: 1, currency: 1, kind: 1, amount: 1, settlement: 1 })
    .lean<LedgerEntry[]>()
    .cursor();
  for await (const entry of entries) {
    if (entry.kind === 'free_invoice') continue; // a $0 invoice: no money either way
    const period = entry[field];
    const id = `${period}|${entry.currency}`;
    let row = rows.get(id);
    if (!row) {
      row = {
        period,
        currency: entry.currency,
        gross: 0,
        refunds: 0,
        disputes: 0,
        net: 0,
        payments: 0,
        outOfBand: 0,
        settlement: [],
        unsettled: 0,
      };
      rows.set(id, row);
    }
    if (entry.kind === 'out_of_band_payment') {
      row.outOfBand += entry.amount; // nothing in Stripe's balance: neither net nor unsettled
      continue;
    }
    if (GROSS.has(entry.kind)) {
      row.gross += entry.amount;
      row.payments++;
    } else if (entry.kind === 'refund' || entry.kind === 'refund_failure')
      row.refunds += entry.amount; // a failed refund's money came back: refunds net of it
    else row.disputes += entry.amount;
    row.net += entry.amount;
    const settled = entry.settlement;
    if (settled) {
      addSettled(row.settlement, settled.currency, settled.amount, settled.fee, settled.net);
      addSettled(settlementTotals, settled.currency, settled.amount, settled.fee, settled.net);
    } else row.unsettled++;
  }
  return {
    rows: [...rows.values()].sort(
      (a, b) => a.period.localeCompare(b.period) || a.currency.localeCompare(b.currency),
    ),
    settlementTotals,
  };
}

export const REVENUE_COLUMNS = [
  'period',
  'currency',
  'gross',
  'refunds',
  'disputes',
  'net',
  'payments',
  'unsettled',
  'settlement_currency',
  'settled_amount',
  'fees',
  'settled_net',
  'out_of_band',
];

/**
 * One line per period, currency and settlement currency. When one currency settles into two,
 * its own figures sit on the first line only, so a spreadsheet's column sum stays right.
 */
export function revenueCsvLines(rows: RevenueRow[]) {
  return rows.flatMap((row) => {
    const settled = row.settlement.length > 0 ? row.settlement : [undefined];
    return settled.map((money, i) => ({
      ...(i === 0
        ? row
        : {
            period: row.period,
            currency: row.currency,
            gross: '',
            refunds: '',
            disputes: '',
            net: '',
            payments: '',
            unsettled: '',
          }),
      settlement_currency: money?.currency ?? '',
      settled_amount: money?.amount ?? '',
      fees: money?.fees ?? '',
      settled_net: money?.net ?? '',
      out_of_band: i === 0 ? row.outOfBand : '',
    }));
  });
}
