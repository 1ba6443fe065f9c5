import type { Connection } from 'mongoose';
import { activeAt, membersWithLatestSubscription, revenueOf } from './member-stream.js';

export interface SummaryReport {
  from: string;
  to: string;
  activeByPlan: { plan: string; interval: string; currency: string; members: number }[];
  /** Monthly recurring revenue per currency, yearly plans counted as a twelfth (minor units). */
  mrr: Record<string, number>;
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

export async function summaryReport(
  db: Connection,
  period: { from: Date; to: Date },
): Promise<SummaryReport> {
  const byPlan = new Map<string, { plan: string; interval: string; currency: string; members: number }>();
  const mrrTimesTwelve: Record<string, number> = {};
  let joined = 0;
  let churned = 0;
  let activeAtStart = 0;
  for await (const [member, latest] of membersWithLatestSubscription(db)) {
    if (member.joinedAt >= period.from && member.joinedAt < period.to) joined++;
    if (member.endedAt && member.endedAt >= period.from && member.endedAt < period.to) churned++;
    if (activeAt(member, period.from)) activeAtStart++;
    if (!activeAt(member, period.to)) continue;
    const revenue = revenueOf(latest, member);
    const sub = revenue ? latest : undefined;
    // No paying subscription: gift time, or (imported without a plan, lapsed payment) none.
    const unpaid = member.source === 'gift' ? 'gift' : 'none';
    const key = sub ? `${sub.plan}|${sub.interval}|${sub.currency}` : `${unpaid}||`;
    const row = byPlan.get(key) ?? {
      plan: sub?.plan ?? unpaid,
      interval: sub?.interval ?? '',
      currency: sub?.currency ?? '',
      members: 0,
    };
    row.members++;
    byPlan.set(key, row);
    if (revenue)
      mrrTimesTwelve[revenue.currency] = (mrrTimesTwelve[revenue.currency] ?? 0) + revenue.twelfths;
  }
  // Summed in twelfths and divided once, so yearly plans do not lose a cent each to rounding.
  const mrr = Object.fromEntries(
    Object.entries(mrrTimesTwelve).map(([currency, v]) => [currency, Math.round(v / 12)]),
  );
  return {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    activeByPlan: [...byPlan.values()].sort((a, b) => b.members - a.members),
    mrr,
    new: joined,
    churned,
    netGrowth: joined - churned,
    churnRate: activeAtStart ? Math.round((churned / activeAtStart) * 10_000) / 10_000 : 0,
  };
}
