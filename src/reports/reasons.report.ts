import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { idOf } from '../infra/stripe.js';
import { ledgerModel } from '../ledger/ledger.model.js';
import { membershipModels, type Subscription } from '../memberships/membership.model.js';

// Why money went back and why members left, for [from, to): refunds and disputes by reason read
// from Stripe on demand (the ledger keeps amounts, not Stripe's reasons), only those of charges our
// ledger holds (an account shared with other apps has others'); cancellations by the reason and
// feedback the subscription mirror keeps from Stripe's cancellation_details.

export interface ReasonsReport {
  /** Subscriptions whose cancellation was asked for (or done) in the period, by Stripe's reason and the member's feedback. */
  cancellations: { reason: string; feedback: string; count: number }[];
  /** By Stripe's refund reason (`none` when staff gave none), status and currency; amounts positive. */
  refunds: { reason: string; status: string; currency: string; count: number; amount: number }[];
  /** Opened in the period, by the cardholder's reason and the dispute's status; fees in the settlement currency. */
  disputes: {
    reason: string;
    status: string;
    currency: string;
    count: number;
    amount: number;
    feeCurrency: string;
    fees: number;
  }[];
  /** A Stripe list that failed: that section is empty, the others stand. */
  unchecked: { what: 'refunds' | 'disputes'; error: string }[];
}

const bump = <T extends { count: number }>(groups: Map<string, T>, key: string, fresh: () => T) => {
  const group = groups.get(key) ?? fresh();
  groups.set(key, group);
  group.count++;
  return group;
};
const sorted = <T>(groups: Map<string, T>) =>
  [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v]) => v);

/** Which of these charges and payment intents our ledger holds (a report: one query per list). */
async function oursAmong(db: Connection, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const entries = await ledgerModel(db)
    .find({ $or: [{ chargeId: { $in: ids } }, { paymentIntentId: { $in: ids } }] })
    .select({ chargeId: 1, paymentIntentId: 1 })
    .lean();
  return new Set(entries.flatMap((e) => [e.chargeId, e.paymentIntentId].filter((x): x is string => !!x)));
}

const isOurs = (ours: Set<string>, o: { charge?: unknown; payment_intent?: unknown }) =>
  ours.has(idOf(o.charge as string) ?? '') || ours.has(idOf(o.payment_intent as string) ?? '');

export async function reasonsReport(
  deps: { db: Connection; stripe: Stripe },
  period: { from: Date; to: Date },
): Promise<ReasonsReport> {
  const created = {
    gte: Math.floor(period.from.getTime() / 1000),
    lt: Math.floor(period.to.getTime() / 1000),
  };
  const unchecked: ReasonsReport['unchecked'] = [];
  const failed = (what: 'refunds' | 'disputes') => (error: unknown) => {
    const e = error as { type?: string; message?: string };
    unchecked.push({ what, error: [e.type, e.message].filter(Boolean).join(': ') || String(error) });
    return [];
  };
  const listAll = async <T>(list: AsyncIterable<T>) => {
    const all: T[] = [];
    for await (const item of list) all.push(item);
    return all;
  };

  const cancellations = new Map<string, ReasonsReport['cancellations'][number]>();
  const subscriptions = membershipModels(deps.db)
    .Subscription.find({ canceledAt: { $gte: period.from, $lt: period.to } })
    .select({ cancellation: 1, status: 1, cancelAtPeriodEnd: 1 })
    .lean<Subscription>()
    .cursor() as AsyncIterable<Subscription>;
  for await (const sub of subscriptions) {
    if (sub.status !== 'canceled' && !sub.cancelAtPeriodEnd) continue; // taken back before it ended
    const reason = sub.cancellation?.reason ?? 'none';
    const feedback = sub.cancellation?.feedback ?? 'none';
    bump(cancellations, `${reason}|${feedback}`, () => ({ reason, feedback, count: 0 }));
  }

  const refundList = await listAll(deps.stripe.refunds.list({ created, limit: 100 })).catch(
    failed('refunds'),
  );
  const disputeList = await listAll(
    deps.stripe.disputes.list({ created, limit: 100, expand: ['data.balance_transactions'] }),
  ).catch(failed('disputes'));
  const ours = await oursAmong(
    deps.db,
    [...refundList, ...disputeList].flatMap((o) =>
      [idOf(o.charge), idOf(o.payment_intent)].filter((x): x is string => !!x),
    ),
  );

  const refunds = new Map<string, ReasonsReport['refunds'][number]>();
  for (const refund of refundList) {
    if (!isOurs(ours, refund)) continue;
    const reason = refund.reason ?? 'none';
    const status = refund.status ?? 'unknown';
    const group = bump(refunds, `${reason}|${status}|${refund.currency}`, () => ({
      reason,
      status,
      currency: refund.currency,
      count: 0,
      amount: 0,
    }));
    group.amount += refund.amount;
  }

  const disputes = new Map<string, ReasonsReport['disputes'][number]>();
  for (const dispute of disputeList) {
    if (!isOurs(ours, dispute)) continue;
    const transactions = dispute.balance_transactions ?? [];
    const feeCurrency = transactions[0]?.currency ?? '';
    const group = bump(
      disputes,
      `${dispute.reason}|${dispute.status}|${dispute.currency}|${feeCurrency}`,
      () => ({
        reason: dispute.reason,
        status: dispute.status,
        currency: dispute.currency,
        count: 0,
        amount: 0,
        feeCurrency,
        fees: 0,
      }),
    );
    group.amount += dispute.amount;
    // The withdrawal's fee, less the one a won dispute's reinstatement gives back.
    group.fees += transactions.reduce((sum, bt) => sum + bt.fee, 0);
  }

  return {
    cancellations: sorted(cancellations),
    refunds: sorted(refunds),
    disputes: sorted(disputes),
    unchecked,
  };
}

export const REASONS_COLUMNS = [
  'section',
  'reason',
  'feedback',
  'status',
  'currency',
  'count',
  'amount',
  'fee_currency',
  'fees',
] as const;

/** One line per group, sections one after the other; a failed Stripe list is an `unchecked` line. */
export function reasonsCsvLines(report: ReasonsReport) {
  const blank = {
    reason: '',
    feedback: '',
    status: '',
    currency: '',
    amount: '',
    fee_currency: '',
    fees: '',
  };
  return [
    ...report.cancellations.map((c) => ({ ...blank, section: 'cancellation', ...c })),
    ...report.refunds.map((r) => ({ ...blank, section: 'refund', ...r })),
    ...report.disputes.map(({ feeCurrency, ...d }) => ({
      ...blank,
      section: 'dispute',
      ...d,
      fee_currency: feeCurrency,
    })),
    ...report.unchecked.map((u) => ({
      ...blank,
      section: 'unchecked',
      reason: u.what,
      status: u.error,
      count: '',
    })),
  ];
}
