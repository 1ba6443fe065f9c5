import type { Connection, Types } from 'mongoose';
import { tallyAdd, tallyCount } from '../infra/tally.js';
import { calendarKeys } from '../shared/time.js';
import { type Campaign, campaignModels } from './campaign.model.js';
import { logCount } from './drive-log/log-count.js';

// A campaign's figures per calendar day (its own time zone), kept as they happen: every
// contribution is also a mark in its day's `added` tally and every revocation in its day's
// `revoked` tally (infra/tally.ts). The Slack daily total reads a day from these by primary-key
// probes, never by grouping the contributions (on FerretDB that decodes every one, each day).
// The day of a contribution is its `day` field; of a revocation, the day of `revokedAt`.

export type DayFigure = 'added' | 'revoked';
const dayTally = (campaignId: Types.ObjectId | string, day: string, figure: DayFigure) =>
  `campaign:${campaignId}:day:${day}:${figure}`;

/** Marks a contribution (`added`) or revocation (`revoked`) in its day's tally; once per record. */
export function tallyDay(
  db: Connection,
  campaign: Pick<Campaign, '_id' | 'timeZone'>,
  figure: DayFigure,
  recordId: string,
  at: Date,
  day = calendarKeys(at, campaign.timeZone).day,
): Promise<void> {
  return tallyAdd(db, dayTally(campaign._id, day, figure), recordId, at);
}

const DAY_MS = 86_400_000;
const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);

/**
 * A finished day: the members counted on it, and the count at its end. The end's count is the
 * count now less what the days since moved (a day's total is sent the morning after: one day).
 */
export async function dayFigures(
  db: Connection,
  campaign: Pick<Campaign, '_id' | 'timeZone' | 'startingOffset'>,
  day: string,
  now: Date,
): Promise<{ joined: number; count: number }> {
  const today = calendarKeys(now, campaign.timeZone).day;
  const net = async (d: string) =>
    (await tallyCount(db, dayTally(campaign._id, d, 'added'))) -
    (await tallyCount(db, dayTally(campaign._id, d, 'revoked')));
  let count = (await logCount(db, campaign)).count;
  for (let d = nextDay(day); d <= today; d = nextDay(d)) count -= await net(d);
  return { joined: await tallyCount(db, dayTally(campaign._id, day, 'added')), count };
}

/** Marks every stored contribution and revocation in its day's tally (a migration, run once). */
export async function backfillDayTallies(db: Connection): Promise<number> {
  const { Campaign, Contribution, Revocation } = campaignModels(db);
  const zones = new Map<string, string>();
  for (const c of await Campaign.find().select({ timeZone: 1 }).lean<Campaign[]>())
    zones.set(String(c._id), c.timeZone);
  let done = 0;
  for await (const c of Contribution.find().select({ campaignId: 1, countedAt: 1, day: 1 }).lean().cursor()) {
    const timeZone = zones.get(String(c.campaignId)) ?? 'UTC';
    await tallyDay(db, { _id: c.campaignId, timeZone }, 'added', c._id, c.countedAt, c.day);
    done++;
  }
  for await (const r of Revocation.find().select({ campaignId: 1, revokedAt: 1 }).lean().cursor()) {
    const timeZone = zones.get(String(r.campaignId)) ?? 'UTC';
    await tallyDay(db, { _id: r.campaignId, timeZone }, 'revoked', r._id, r.revokedAt);
    done++;
  }
  return done;
}
