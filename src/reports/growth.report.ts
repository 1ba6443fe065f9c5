import type { Connection } from 'mongoose';
import { membershipModels } from '../memberships/membership.model.js';
import { calendarKeys, zonedDayRange } from '../shared/time.js';
import { membersWithLatestSubscription, revenueOf } from './member-stream.js';
import type { PricedDiscounts } from './mrr.js';

export interface GrowthDay {
  day: string; // YYYY-MM-DD in the newsroom's time zone
  joined: number;
  ended: number;
  /** Members at the end of the day. */
  active: number;
  /** Monthly recurring revenue at the end of the day, per currency (yearly plans as twelfths). */
  mrr: Record<string, number>;
}

function eachDay(from: string, to: string): string[] {
  const days: string[] = [];
  for (
    let d = new Date(`${from}T00:00:00Z`);
    d.toISOString().slice(0, 10) <= to;
    d.setUTCDate(d.getUTCDate() + 1)
  )
    days.push(d.toISOString().slice(0, 10));
  return days;
}

/**
 * Day by day from `from` to `to` (inclusive, local days): who joined, who left, and how many members
 * and how much monthly revenue there were at each day's end. One pass over members: each adds at
 * its joining day and takes away at its ending day, in constant memory. MRR uses each member's
 * latest subscription as it is now; a plan changed mid-range counts at its new price throughout.
 * A trialing subscription is not revenue (the summary shows trials apart).
 */
export async function growthReport(
  db: Connection,
  options: { from: string; to: string; timeZone: string; priced?: PricedDiscounts },
): Promise<GrowthDay[]> {
  const { Member } = membershipModels(db);
  const days = eachDay(options.from, options.to);
  const index = new Map(days.map((d, i) => [d, i]));
  const joinedOn = new Array<number>(days.length).fill(0);
  const endedOn = new Array<number>(days.length).fill(0);
  const mrrChange = days.map(() => ({}) as Record<string, number>);
  // Discounts are judged at the end of the range, as the summary judges them at its period's end.
  const end = zonedDayRange(options.from, options.to, options.timeZone).to;
  let activeBefore = 0;
  const mrrBefore: Record<string, number> = {};

  const add = (into: Record<string, number>, currency: string, value: number) => {
    into[currency] = (into[currency] ?? 0) + value;
  };

  for await (const [member, subscription] of membersWithLatestSubscription(
    db,
    Member.find().select({ joinedAt: 1, endedAt: 1 }),
  )) {
    const joined = calendarKeys(member.joinedAt, options.timeZone).day;
    const ended = member.endedAt ? calendarKeys(member.endedAt, options.timeZone).day : undefined;
    if (joined > options.to || (ended && ended < options.from)) continue;
    const revenue = revenueOf(subscription, member, end, options.priced);
    if (joined < options.from) {
      activeBefore++;
      if (revenue) add(mrrBefore, revenue.currency, revenue.twelfths);
    } else {
      const i = index.get(joined)!;
      joinedOn[i]!++;
      if (revenue) add(mrrChange[i]!, revenue.currency, revenue.twelfths);
    }
    if (ended && ended <= options.to) {
      const i = index.get(ended)!;
      endedOn[i]!++;
      if (revenue) add(mrrChange[i]!, revenue.currency, -revenue.twelfths);
    }
  }

  let active = activeBefore;
  const mrr = { ...mrrBefore };
  return days.map((day, i) => {
    active += joinedOn[i]! - endedOn[i]!;
    for (const [currency, value] of Object.entries(mrrChange[i]!)) add(mrr, currency, value);
    return {
      day,
      joined: joinedOn[i]!,
      ended: endedOn[i]!,
      active,
      mrr: Object.fromEntries(Object.entries(mrr).map(([c, v]) => [c, Math.round(v / 12)])),
    };
  });
}

/** Growth as CSV lines: one column of MRR per currency that appears in the range. */
export function growthCsv(days: GrowthDay[]) {
  const currencies = [...new Set(days.flatMap((d) => Object.keys(d.mrr)))].sort();
  return {
    columns: ['day', 'joined', 'ended', 'active', ...currencies.map((c) => `mrr_${c}`)],
    lines: days.map(({ mrr, ...day }) => ({
      ...day,
      ...Object.fromEntries(currencies.map((c) => [`mrr_${c}`, mrr[c] ?? 0])),
    })),
  };
}
