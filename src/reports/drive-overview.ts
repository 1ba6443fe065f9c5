import type { Connection } from 'mongoose';
import { type Campaign, campaignModels } from '../campaigns/campaign.model.js';
import { countOf } from '../campaigns/campaign.service.js';
import { MAX_WINDOW_DAYS } from '../campaigns/campaign-admin.js';
import { goalFigures } from '../campaigns/progress.service.js';
import { supportersTotal } from '../memberships/supporters.js';
import { calendarKeys } from '../shared/time.js';

// The drive at a glance for the console's home: count against the goal, days left, the pace of
// the last 7 days and the day the goal is reached at that pace, the supporters total, and day by
// day over the campaign's whole window the cumulative count and the new members by source. No
// money: every role sees it. The count is the exact tally; the daily series is grouped from the
// campaign's contribution records (a report, read on a staff page).

const DAY_MS = 86_400_000;
const PACE_DAYS = 7;

export type DriveSource = 'checkout' | 'gift' | 'oneTime';
const SOURCE_OF_KIND: Record<string, DriveSource> = { member: 'checkout', gift: 'gift', one_time: 'oneTime' };

export interface DriveDay {
  day: string;
  checkout: number;
  gift: number;
  oneTime: number;
  revoked: number;
  /** Counted so far at the end of this day; undefined for days still to come. */
  cumulative?: number;
}

export interface DriveOverview {
  slug: string;
  title: string;
  goal: number;
  count: number;
  percent: number;
  daysLeft: number;
  /** Net new members per day over the last 7 days (or the days run so far, if fewer). */
  pacePerDay: number;
  /** The day the goal is reached at that pace; undefined when reached or the pace is zero. */
  projectedDay?: string;
  projectedAfterEnd: boolean;
  /** Null until first counted (memberships/supporters.ts). */
  supporters: number | null;
  startsAt: string;
  endsAt: string;
  days: DriveDay[];
}

/** Every calendar day from `from` to `to` (YYYY-MM-DD, inclusive). */
function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let at = Date.parse(`${from}T00:00:00Z`); at <= Date.parse(`${to}T00:00:00Z`); at += DAY_MS)
    days.push(new Date(at).toISOString().slice(0, 10));
  return days;
}

export async function driveOverview(db: Connection, campaign: Campaign, now: Date): Promise<DriveOverview> {
  const { Contribution, Revocation } = campaignModels(db);
  const [count, supporters, added, revoked] = await Promise.all([
    countOf(db, campaign),
    supportersTotal(db, now),
    Contribution.aggregate<{ _id: { day: string; kind: string }; n: number }>([
      { $match: { campaignId: campaign._id } },
      { $group: { _id: { day: '$day', kind: '$kind' }, n: { $sum: 1 } } },
    ]),
    Revocation.find({ campaignId: campaign._id }).select({ revokedAt: 1 }).lean(),
  ]);
  const zone = campaign.timeZone;
  const first = calendarKeys(campaign.startsAt, zone).day;
  const last = calendarKeys(new Date(campaign.endsAt.getTime() - 1), zone).day;
  // Campaigns saved before windows were limited may run for centuries: chart the first ten years.
  const charted = Math.min(campaign.endsAt.getTime(), campaign.startsAt.getTime() + MAX_WINDOW_DAYS * DAY_MS);
  const today = calendarKeys(now, zone).day;
  const byDay = new Map<string, DriveDay>(
    daysBetween(first, calendarKeys(new Date(charted - 1), zone).day).map((day) => [
      day,
      { day, checkout: 0, gift: 0, oneTime: 0, revoked: 0 },
    ]),
  );
  const dayOf = (day: string) => {
    const entry = byDay.get(day) ?? { day, checkout: 0, gift: 0, oneTime: 0, revoked: 0 };
    byDay.set(day, entry);
    return entry;
  };
  for (const group of added) dayOf(group._id.day)[SOURCE_OF_KIND[group._id.kind] ?? 'checkout'] += group.n;
  for (const r of revoked) dayOf(calendarKeys(r.revokedAt, zone).day).revoked++;

  let cumulative = campaign.startingOffset;
  const days = [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day));
  for (const d of days) {
    if (d.day > today) continue;
    cumulative += d.checkout + d.gift + d.oneTime - d.revoked;
    d.cumulative = cumulative;
  }
  const run = days.filter((d) => d.day <= today);
  const recent = run.slice(-PACE_DAYS);
  const net = recent.reduce((sum, d) => sum + d.checkout + d.gift + d.oneTime - d.revoked, 0);
  const pacePerDay = recent.length ? net / recent.length : 0;
  let projectedDay: string | undefined;
  if (count < campaign.goal && pacePerDay > 0) {
    const at = new Date(now.getTime() + Math.ceil((campaign.goal - count) / pacePerDay) * DAY_MS);
    projectedDay = calendarKeys(at, zone).day;
  }
  return {
    ...goalFigures(campaign, count, now),
    pacePerDay: Math.round(pacePerDay * 10) / 10,
    projectedDay,
    projectedAfterEnd: projectedDay !== undefined && projectedDay > last,
    supporters: supporters ?? null,
    startsAt: campaign.startsAt.toISOString(),
    endsAt: campaign.endsAt.toISOString(),
    days,
  };
}

/** The campaigns the overview shows: running ones, else the most recent. */
export async function overviewCampaigns(db: Connection, now: Date): Promise<Campaign[]> {
  const all = await campaignModels(db).Campaign.find().sort({ startsAt: -1 }).lean<Campaign[]>();
  const running = all.filter((c) => c.startsAt <= now && now < c.endsAt);
  return running.length ? running : all.slice(0, 1);
}
