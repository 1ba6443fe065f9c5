import type { Connection } from 'mongoose';
import { isDuplicateKey } from '../infra/db.js';
import { appendSlot, readSlots } from '../infra/slots.js';
import { tallyAdd, tallyCount } from '../infra/tally.js';
import { calendarKeys } from '../shared/time.js';
import { attributionModels, type FunnelDay } from './attribution.model.js';
import { NO_CAMPAIGN } from './rows.js';

// The funnel per campaign, day and placement: widget or button views, clicks, checkouts started,
// checkouts paid. Each stage is a tally (src/infra/tally.ts): exact, kept without $inc, read with a
// few `_id` probes. A view or a click is one mark named by a random id, so nothing in it can tell
// who the reader was: no cookie is read or set, no address, no IP, no user agent. A checkout is
// counted once by its reference (started) or Stripe session id (paid), whatever redelivers it.

export const STAGES = ['view', 'click', 'started', 'paid'] as const;
export type Stage = (typeof STAGES)[number];

/** Beyond this many placements in one campaign, new ones count as `other` (the beacon is public). */
export const MAX_PLACEMENTS = 20;
export const NO_PLACEMENT = 'none';
export const OTHER_PLACEMENT = 'other';

export const funnelTally = (campaign: string, day: string, placement: string, stage: Stage) =>
  `funnel:${campaign}:${day}:${placement}:${stage}`;

const known = new WeakMap<Connection, Map<string, Set<string>>>();

async function placementsOf(db: Connection, campaign: string): Promise<string[]> {
  const stored = await readSlots(attributionModels(db).FunnelPlacement, campaign);
  return [...new Set(stored.map((slot) => slot.placement))];
}

/** The placement as counted: listed once per campaign, `other` once the list is full. */
async function listed(db: Connection, campaign: string, placement: string): Promise<string> {
  const perDb = known.get(db) ?? new Map<string, Set<string>>();
  known.set(db, perDb);
  const seen = perDb.get(campaign);
  if (seen?.has(placement)) return placement;
  const placements = await placementsOf(db, campaign);
  if (!placements.includes(placement)) {
    if (placements.length >= MAX_PLACEMENTS) return OTHER_PLACEMENT;
    await appendSlot(
      attributionModels(db).FunnelPlacement,
      campaign,
      { placement },
      (s) => s.placement === placement,
    );
  }
  perDb.set(campaign, new Set([...placements, placement]));
  return placement;
}

export interface FunnelStep {
  stage: Stage;
  campaign?: string;
  placement?: string;
  at: Date;
  /** What makes this step one: a random id for a view or click, the checkout's reference or session. */
  record: string;
}

/**
 * The placements with anything counted on a day are listed under `<campaign>|<day>` too, so a
 * report reads only their tallies (a 93-day report of a quiet campaign is 93 reads, not 93 × 21 × 4
 * tally probes). Listed once per process, day and placement.
 */
const activeSeen = new WeakMap<Connection, Set<string>>();
async function markActive(db: Connection, campaign: string, day: string, placement: string): Promise<void> {
  const seen = activeSeen.get(db) ?? new Set<string>();
  activeSeen.set(db, seen);
  const key = `${campaign}|${day}`;
  if (seen.has(`${key}|${placement}`)) return;
  await appendSlot(
    attributionModels(db).FunnelPlacement,
    key,
    { placement },
    (s) => s.placement === placement,
  );
  seen.add(`${key}|${placement}`);
}

export async function countFunnelStep(db: Connection, timeZone: string, step: FunnelStep): Promise<void> {
  const campaign = step.campaign ?? NO_CAMPAIGN;
  const placement = await listed(db, campaign, step.placement ?? NO_PLACEMENT);
  const { day } = calendarKeys(step.at, timeZone);
  // Listed before the mark: a crash between the two leaves a listed placement with nothing counted.
  await markActive(db, campaign, day, placement);
  await tallyAdd(db, funnelTally(campaign, day, placement, step.stage), step.record, step.at);
}

export type FunnelCounts = Record<Stage, number>;
export interface FunnelRow extends FunnelCounts {
  day: string;
  placement: string;
}

/**
 * A day is settled once no step can still land on it: a paid checkout is counted on the day of its
 * session, and Stripe redelivers an event for up to three days. Four days after, in UTC (more than
 * any zone's offset), the day's counts no longer move.
 */
export const SETTLED_AFTER_DAYS = 4;
const settled = (day: string, now: Date) =>
  Date.parse(`${day}T00:00:00Z`) + (SETTLED_AFTER_DAYS + 1) * 86_400_000 <= now.getTime();

/** A day's rows from its tallies: a few `_id` probes per tally, no scan. */
async function dayFromTallies(db: Connection, campaign: string, day: string): Promise<FunnelRow[]> {
  const rows: FunnelRow[] = [];
  for (const placement of await placementsOf(db, `${campaign}|${day}`)) {
    const counts = { view: 0, click: 0, started: 0, paid: 0 };
    for (const stage of STAGES)
      counts[stage] = await tallyCount(db, funnelTally(campaign, day, placement, stage));
    if (STAGES.some((stage) => counts[stage] > 0)) rows.push({ day, placement, ...counts });
  }
  return rows;
}

/**
 * Every day and placement with anything counted. A settled day is read from its roll-up, one
 * document, written the first time the day is read after it settled (an insert with a unique
 * `_id`: racing readers write the same counts, one insert wins); days still moving from the tallies.
 */
export async function readFunnel(
  db: Connection,
  campaign: string,
  days: string[],
  now: Date,
): Promise<FunnelRow[]> {
  const { FunnelDay } = attributionModels(db);
  const rows: FunnelRow[] = [];
  for (const day of days) {
    if (!settled(day, now)) {
      rows.push(...(await dayFromTallies(db, campaign, day)));
      continue;
    }
    const _id = `${campaign}|${day}`;
    const rolled = await FunnelDay.findById(_id).lean<FunnelDay>();
    if (rolled) {
      rows.push(...rolled.rows.map((row) => ({ day, ...row })));
      continue;
    }
    const fresh = await dayFromTallies(db, campaign, day);
    await FunnelDay.create({ _id, rows: fresh.map(({ day: _, ...row }) => row) }).catch((error: unknown) => {
      if (!isDuplicateKey(error)) throw error;
    });
    rows.push(...fresh);
  }
  return rows;
}
