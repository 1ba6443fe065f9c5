import type { Connection } from 'mongoose';
import { activeAt, membersWithLatestSubscription, revenueOf, trialValueOf } from './member-stream.js';
import type { PricedDiscounts } from './mrr.js';

export interface SummaryReport {
  from: string;
  to: string;
  activeByPlan: PlanRow[];
  /**
   * Monthly recurring revenue per currency of paying subscriptions (not trials): every item's price
   * × quantity less discounts, yearly and weekly plans normalised to a month (minor units).
   */
  mrr: Record<string, number>;
  /**
   * Subscriptions in a trial (here: gift months, on a gift member's continuation or a paying
   * member's subscription): how many, and what they will bill a month once the trial ends.
   */
  trialing: { members: number; mrrAfterTrial: Record<string, number> };
  /** Members on gift time with no subscription at all. */
  onGiftWithoutSubscription: number;
  /** Subscriptions whose discount could not be priced, so MRR includes it undiscounted. */
  unpricedDiscounts: number;
  new: number;
  churned: number;
  netGrowth: number;
  /** Churned in the period over active at its start (0 when nobody was). */
  churnRate: number;
}

/**
 * The membership at a glance for a period [from, to): who is active at its end by plan and currency,
 * MRR, and how many joined and left in the period: the growth report's last day, by the same rules
 * (member-stream.ts). One streamed pass over members with their latest subscription, in constant memory.
 */

interface PlanRow {
  plan: string;
  interval: string;
  currency: string;
  members: number;
  /** Present on the rows of subscriptions in a trial: not in MRR. */
  trialing?: true;
}

const inMonths = (twelfths: Record<string, number>) =>
  Object.fromEntries(Object.entries(twelfths).map(([currency, v]) => [currency, Math.round(v / 12)]));

export async function summaryReport(
  db: Connection,
  period: { from: Date; to: Date },
  options: { priced?: PricedDiscounts } = {},
): Promise<SummaryReport> {
  const byPlan = new Map<string, PlanRow>();
  const mrrTimesTwelve: Record<string, number> = {};
  const trialTimesTwelve: Record<string, number> = {};
  let trialing = 0;
  let onGift = 0;
  let unpricedDiscounts = 0;
  let joined = 0;
  let churned = 0;
  let activeAtStart = 0;
  for await (const [member, latest] of membersWithLatestSubscription(db)) {
    if (member.joinedAt >= period.from && member.joinedAt < period.to) joined++;
    if (member.endedAt && member.endedAt >= period.from && member.endedAt < period.to) churned++;
    if (activeAt(member, period.from)) activeAtStart++;
    if (!activeAt(member, period.to)) continue;
    const revenue = revenueOf(latest, member, period.to, options.priced);
    const trial = revenue ? undefined : trialValueOf(latest, period.to, options.priced);
    const sub = revenue || trial ? latest : undefined;
    // No paying subscription: gift time, or (imported without a plan, lapsed payment) none.
    const unpaid = member.source === 'gift' ? 'gift' : 'none';
    const key = sub ? `${sub.plan}|${sub.interval}|${sub.currency}|${trial ? 'trial' : ''}` : `${unpaid}||`;
    const row: PlanRow = byPlan.get(key) ?? {
      plan: sub?.plan ?? unpaid,
      interval: sub?.interval ?? '',
      currency: sub?.currency ?? '',
      members: 0,
      ...(trial ? { trialing: true as const } : {}),
    };
    row.members++;
    byPlan.set(key, row);
    if (!sub && unpaid === 'gift') onGift++;
    const money = revenue ?? trial;
    if (!money) continue;
    const into = revenue ? mrrTimesTwelve : trialTimesTwelve;
    into[money.currency] = (into[money.currency] ?? 0) + money.twelfths;
    if (trial) trialing++;
    if (money.unpriced) unpricedDiscounts++;
  }
  return {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    activeByPlan: [...byPlan.values()].sort((a, b) => b.members - a.members),
    // Summed in twelfths and divided once, so yearly plans do not lose a cent each to rounding.
    mrr: inMonths(mrrTimesTwelve),
    trialing: { members: trialing, mrrAfterTrial: inMonths(trialTimesTwelve) },
    onGiftWithoutSubscription: onGift,
    unpricedDiscounts,
    new: joined,
    churned,
    netGrowth: joined - churned,
    churnRate: activeAtStart ? Math.round((churned / activeAtStart) * 10_000) / 10_000 : 0,
  };
}
