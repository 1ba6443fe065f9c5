import type { Connection } from 'mongoose';
import { ledgerModel } from '../ledger/ledger.model.js';

export interface RevenueRow {
  period: string; // YYYY-MM-DD or YYYY-MM in the newsroom's time zone
  currency: string;
  gross: number; // payments, gift purchases (minor units)
  refunds: number; // negative
  disputes: number; // negative when lost or pending, back up when won
  net: number;
  payments: number; // how many
}

const GROSS = new Set(['subscription_payment', 'one_time_payment', 'gift_purchase']);

/**
 * Revenue per day or month and currency, summed over the ledger (never over member fields). The
 * day and month keys were cut in the newsroom's time zone when each entry was written.
 */
export async function revenueReport(
  db: Connection,
  options: { by: 'day' | 'month'; from: string; to: string },
): Promise<RevenueRow[]> {
  const key = options.by === 'day' ? '$day' : '$month';
  const field = options.by;
  const groups = await ledgerModel(db).aggregate<{
    _id: { period: string; currency: string; kind: string };
    amount: number;
    count: number;
  }>([
    { $match: { [field]: { $gte: options.from, $lte: options.to } } },
    {
      $group: {
        _id: { period: key, currency: '$currency', kind: '$kind' },
        amount: { $sum: '$amount' },
        count: { $sum: 1 },
      },
    },
  ]);
  const rows = new Map<string, RevenueRow>();
  for (const g of groups) {
    const id = `${g._id.period}|${g._id.currency}`;
    const row = rows.get(id) ?? {
      period: g._id.period,
      currency: g._id.currency,
      gross: 0,
      refunds: 0,
      disputes: 0,
      net: 0,
      payments: 0,
    };
    if (GROSS.has(g._id.kind)) {
      row.gross += g.amount;
      row.payments += g.count;
    } else if (g._id.kind === 'refund') row.refunds += g.amount;
    else row.disputes += g.amount;
    row.net = row.gross + row.refunds + row.disputes;
    rows.set(id, row);
  }
  return [...rows.values()].sort(
    (a, b) => a.period.localeCompare(b.period) || a.currency.localeCompare(b.currency),
  );
}
