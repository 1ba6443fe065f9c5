import type { Connection } from 'mongoose';
import { membersWithLatestSubscription } from './member-stream.js';

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
 * The membership at a glance for a period [from, to): who is active now by plan and currency, MRR,
 * and how many joined and left in the period. One streamed pass over members with their latest
 * subscription, in constant memory.
 */
const PAYING = new Set(['active', 'trialing', 'past_due']);

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
    if (member.joinedAt < period.from && !(member.endedAt && member.endedAt < period.from)) activeAtStart++;
    if (member.status !== 'active') continue;
    const sub = latest && PAYING.has(latest.status) ? latest : undefined;
    const key = sub ? `${sub.plan}|${sub.interval}|${sub.currency}` : 'gift||';
    const row = byPlan.get(key) ?? {
      plan: sub?.plan ?? 'gift',
      interval: sub?.interval ?? '',
      currency: sub?.currency ?? '',
      members: 0,
    };
    row.members++;
    byPlan.set(key, row);
    if (sub)
      mrrTimesTwelve[sub.currency] =
        (mrrTimesTwelve[sub.currency] ?? 0) + sub.amount * (sub.interval === 'year' ? 1 : 12);
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
