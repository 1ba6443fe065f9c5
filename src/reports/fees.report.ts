import type Stripe from 'stripe';
import { calendarKeys } from '../shared/time.js';

// Net after every Stripe fee, per month and settlement currency, from Stripe's balance transactions
// (the account's own books): processing fees sit on each charge, refund and dispute transaction;
// Billing, Radar and other product fees (`stripe_fee`), Stripe Tax's (`tax_fee`) and currency
// conversion fees (`stripe_fx_fee`) are transactions of their own (src/reports/README.md, "Fees").

export interface NetLine {
  month: string;
  /** The settlement (payout) currency every figure is in. */
  currency: string;
  gross: number;
  refunds: number;
  disputes: number;
  /** Fees on supporters' own transactions (card processing, dispute fees), positive. */
  processingFees: number;
  /** Billing, Radar and other Stripe product fees (`stripe_fee`), positive. */
  stripeFees: number;
  /** Stripe Tax (`tax_fee`), positive. */
  taxFees: number;
  /** Currency conversion (`stripe_fx_fee`), positive. */
  fxFees: number;
  /** gross + refunds + disputes − every fee: what these months add to the balance. */
  net: number;
}

const GROSS = new Set(['charge', 'payment']);
const REFUNDS = new Set(['refund', 'refund_failure', 'payment_refund', 'payment_failure_refund']);
const DISPUTES = new Set(['dispute', 'dispute_reversal']);
const FEE_COLUMN: Record<string, 'stripeFees' | 'taxFees' | 'fxFees'> = {
  stripe_fee: 'stripeFees',
  tax_fee: 'taxFees',
  stripe_fx_fee: 'fxFees',
};

/**
 * Every balance transaction Stripe created in [from, to), summed per month (in the newsroom's time
 * zone) and currency. The whole account: on an account shared with other apps their charges are
 * in it too, and Stripe's separate fees cannot be told apart by app.
 */
export async function netAfterFees(
  stripe: Stripe,
  period: { from: Date; to: Date },
  timeZone: string,
): Promise<{ lines: NetLine[] }> {
  const lines = new Map<string, NetLine>();
  for await (const bt of stripe.balanceTransactions.list({
    created: { gte: Math.floor(period.from.getTime() / 1000), lt: Math.floor(period.to.getTime() / 1000) },
    limit: 100,
  })) {
    const category = bt.reporting_category;
    const feeColumn = FEE_COLUMN[bt.type] ?? (category === 'fee' ? 'stripeFees' : undefined);
    const supporters = GROSS.has(category) || REFUNDS.has(category) || DISPUTES.has(category);
    if (!feeColumn && !supporters) continue; // payouts, transfers, top-ups: not revenue
    const month = calendarKeys(new Date(bt.created * 1000), timeZone).month;
    const key = `${month}|${bt.currency}`;
    const line = lines.get(key) ?? {
      month,
      currency: bt.currency,
      gross: 0,
      refunds: 0,
      disputes: 0,
      processingFees: 0,
      stripeFees: 0,
      taxFees: 0,
      fxFees: 0,
      net: 0,
    };
    lines.set(key, line);
    if (feeColumn)
      line[feeColumn] -= bt.amount; // a fee transaction takes money: its amount is negative
    else {
      if (GROSS.has(category)) line.gross += bt.amount;
      else if (REFUNDS.has(category)) line.refunds += bt.amount;
      else line.disputes += bt.amount;
    }
    line.processingFees += bt.fee;
    line.net += bt.net;
  }
  return {
    lines: [...lines.values()].sort(
      (a, b) => a.month.localeCompare(b.month) || a.currency.localeCompare(b.currency),
    ),
  };
}

export const NET_COLUMNS = [
  'month',
  'currency',
  'gross',
  'refunds',
  'disputes',
  'processingFees',
  'stripeFees',
  'taxFees',
  'fxFees',
  'net',
] as const;
