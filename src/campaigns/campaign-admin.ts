import type { Connection } from 'mongoose';
import { z } from 'zod';
import { AppError, type ErrorDetail } from '../http/errors.js';
import { parseInput } from '../http/validate.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import { saveVersion } from '../infra/versions.js';
import { isTimeZone } from '../shared/time.js';
import { type Campaign, campaignModels } from './campaign.model.js';
import { logOffsetChange, logStartingOffset } from './drive-log/log-count.js';

// Creating, changing and ending a campaign: the rules the JSON API and the console share.

export const slugParam = z.string().regex(/^[a-z0-9-]{1,60}$/, 'lowercase letters, digits and dashes');
const timeZone = z.string().refine(isTimeZone, 'an IANA time zone like Europe/Kyiv');

/** Ten years: a drive, not an archive (the console draws one bar per day of the window). */
export const MAX_WINDOW_DAYS = 3_660;

/** What is wrong with a campaign's window, if anything: creating and changing share the rules. */
function windowProblem(c: { startsAt: Date; endsAt: Date }): Required<ErrorDetail> | undefined {
  // 2000-01-01 in the easternmost zone (UTC+14).
  if (c.startsAt < new Date('1999-12-31T10:00:00Z'))
    return { path: 'startsAt', message: 'must be in 2000 or later' };
  if (c.endsAt <= c.startsAt) return { path: 'endsAt', message: 'must be after startsAt' };
  if (c.endsAt.getTime() - c.startsAt.getTime() > MAX_WINDOW_DAYS * 86_400_000)
    return { path: 'endsAt', message: 'must be at most ten years after startsAt' };
  return undefined;
}

// Each field once, without defaults: creating fills the defaults in, changing leaves every field
// it does not name as it is (zod's .partial() would keep the defaults and reset them).
const fields = {
  title: z.string().trim().min(1).max(120),
  description: z.string().max(1000),
  goal: z.number().int().positive().max(10_000_000),
  startsAt: z.iso.datetime({ offset: true }).transform((v) => new Date(v)),
  endsAt: z.iso.datetime({ offset: true }).transform((v) => new Date(v)),
  timeZone,
  startingOffset: z.number().int().nonnegative(),
  /** Why the starting offset is what it is: published in the drive log with the offset. */
  offsetReason: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[^\p{Cc}]*$/u, 'no control characters'),
  milestones: z.array(z.number().int().min(1).max(1000)).max(20),
};
export const createCampaignSchema = z
  .object({
    ...fields,
    slug: slugParam,
    description: fields.description.default(''),
    timeZone: timeZone.default('UTC'),
    startingOffset: fields.startingOffset.default(0),
    offsetReason: fields.offsetReason.optional(),
    counts: z
      .object({ gifts: z.boolean().default(true), oneTime: z.boolean().default(false) })
      .default({ gifts: true, oneTime: false }),
    milestones: fields.milestones.default([25, 50, 75, 100]),
  })
  .superRefine((c, ctx) => {
    const problem = windowProblem(c);
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message });
  })
  .meta({ id: 'CampaignCreate' });
export const updateCampaignSchema = z
  .object({
    ...fields,
    counts: z.object({ gifts: z.boolean(), oneTime: z.boolean() }).partial(),
    version: z.number().int().nonnegative().meta({
      description:
        'The version the change was made from (as read); if someone saved since, 409 edit_conflict with the campaign as it is now',
    }),
  })
  .partial()
  .meta({ id: 'CampaignUpdate' });
export type CampaignChanges = Omit<z.infer<typeof updateCampaignSchema>, 'version'>;
export type CampaignView = ReturnType<typeof presentCampaign>;

/** The update as `$set` paths: `counts.oneTime` alone leaves `counts.gifts` as it is. */
function setPaths(changes: CampaignChanges): Record<string, unknown> {
  const { counts, ...rest } = changes;
  const set: Record<string, unknown> = { ...rest };
  for (const [key, value] of Object.entries(counts ?? {})) set[`counts.${key}`] = value;
  return set;
}

async function existing(db: Connection, slug: string): Promise<Campaign> {
  const found = await campaignModels(db)
    .Campaign.findOne({ slug: parseInput(slugParam, slug) })
    .lean<Campaign>();
  if (!found) throw new AppError('not_found', 'There is no campaign with this name.');
  return found;
}

/** Who makes a change: their staff id goes into the drive log hashed, with offset changes. */
export interface CampaignActor {
  staffId: string;
}

export async function createCampaign(
  db: Connection,
  input: unknown,
  actor: CampaignActor = { staffId: 'unknown' },
): Promise<CampaignView> {
  const { offsetReason, ...campaign } = parseInput(createCampaignSchema, input);
  try {
    const created = (await campaignModels(db).Campaign.create(campaign)).toObject();
    // The offset is the log's first leaf (drive-log/log-count.ts): the count is the log's alone.
    await logStartingOffset(db, created, { ...actor, reason: offsetReason ?? 'starting offset' });
    return presentCampaign(created);
  } catch (error) {
    if (isDuplicateKey(error))
      throw new AppError('conflict', `A campaign called "${campaign.slug}" exists.`, [
        { path: 'slug', message: 'This name is taken by another campaign.' },
      ]);
    throw error;
  }
}

/** Changes only the fields named; the window must stay the right way round. */
export async function updateCampaign(
  db: Connection,
  clock: Clock,
  slug: string,
  input: unknown,
  actor: CampaignActor = { staffId: 'unknown' },
): Promise<CampaignView> {
  const { version, offsetReason, ...changes } = parseInput(updateCampaignSchema, input);
  let before: Campaign | undefined;
  const saved = await saveCampaign(db, clock, slug, version, (current) => {
    before = current;
    const merged = { ...current, ...changes, counts: { ...current.counts, ...changes.counts } };
    // Checked when the window changes: a campaign saved before the limits can still be renamed.
    const problem = (changes.startsAt || changes.endsAt) && windowProblem(merged);
    if (problem) throw new AppError('validation_failed', undefined, [problem]);
    return setPaths(changes);
  });
  // A changed offset moves the count only as a leaf of the drive log, with who and why.
  if (before && changes.startingOffset !== undefined)
    await logOffsetChange(
      db,
      before,
      changes.startingOffset,
      { ...actor, reason: offsetReason ?? 'starting offset changed' },
      clock.now(),
    );
  return saved;
}

/** Ends the campaign now (a campaign already over keeps its end). */
export async function endCampaign(db: Connection, clock: Clock, slug: string): Promise<CampaignView> {
  return saveCampaign(db, clock, slug, undefined, (before) => ({
    endsAt: new Date(Math.min(before.endsAt.getTime(), clock.now().getTime())),
  }));
}

/** The answer to a save made from an older version: the campaign as it is now, to merge with. */
export const editConflict = (current: Campaign) =>
  new AppError('edit_conflict', undefined, undefined, undefined, presentCampaign(current));

/**
 * Every change of a campaign is one version, decided by a claim `campaign-edit:<id>:<version>`
 * (src/infra/versions.ts): a save from a version someone already claimed is refused with the
 * campaign as it is now. Without `expected` (the API without `version`, ending a campaign) the
 * change applies to whatever version is current.
 */
async function saveCampaign(
  db: Connection,
  clock: Clock,
  slug: string,
  expected: number | undefined,
  change: (before: Campaign) => Record<string, unknown>,
): Promise<CampaignView> {
  const saved = await saveVersion(
    {
      db,
      model: campaignModels(db).Campaign,
      prefix: 'campaign-edit',
      load: () => existing(db, slug),
      now: () => clock.now(),
    },
    expected,
    (before) => ({ set: change(before) }),
  );
  if (saved.outcome === 'saved') return presentCampaign(saved.record);
  if (saved.outcome === 'conflict') throw editConflict(saved.current);
  throw new AppError('edit_conflict', 'The campaign is being changed by others right now. Please try again.');
}

export function presentCampaign(c: Omit<Campaign, '_id' | 'createdAt' | 'updatedAt'>) {
  return {
    slug: c.slug,
    title: c.title,
    description: c.description,
    goal: c.goal,
    startsAt: c.startsAt.toISOString(),
    endsAt: c.endsAt.toISOString(),
    timeZone: c.timeZone,
    startingOffset: c.startingOffset,
    counts: c.counts,
    milestones: c.milestones,
    /** Send it back with a change: a save from an older version is refused (409 edit_conflict). */
    version: c.version ?? 0,
  };
}
