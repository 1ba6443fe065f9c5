import { createHash } from 'node:crypto';
import fresh from 'fresh';
import type { Connection } from 'mongoose';
import { AppError } from '../http/errors.js';
import { supportersTotal } from '../memberships/supporters.js';
import { INTL_LOCALE, type Locale, translate } from '../shared/messages.js';
import { type Campaign, campaignModels } from './campaign.model.js';
import { logCount, type SignedHead } from './drive-log/log-count.js';

export interface Progress {
  slug: string;
  title: string;
  goal: number;
  count: number;
  percent: number;
  remaining: number;
  startsAt: string;
  endsAt: string;
  daysLeft: number;
  /** Active members, all campaigns; null until first counted (memberships/supporters.ts). */
  supporters: number | null;
  /**
   * The latest signed checkpoint of the drive log (src/campaigns/README.md, "The count"): `count` is
   * the log's count now, `pending` what it added since this checkpoint (`count − checkpoint.count`).
   */
  checkpoint: SignedHead | null;
  pending: number;
  updatedAt: string;
}

const DAY_MS = 86_400_000;

/** What every view of a drive says about its goal: the widget, the image, the console's overview. */
export function goalFigures(campaign: Campaign, count: number, now: Date) {
  return {
    slug: campaign.slug,
    title: campaign.title,
    goal: campaign.goal,
    count,
    percent: Math.floor((count * 100) / campaign.goal),
    daysLeft: Math.max(0, Math.ceil((campaign.endsAt.getTime() - now.getTime()) / DAY_MS)),
  };
}

/**
 * Which signed checkpoint the number comes from, in the reader's language: its sequence, signed
 * count and log size, then what changed since (`pending`), or that none is signed yet. The iframe
 * and the image say it in these words; widget.js composes the same messages (README, "What each
 * embed says about the log").
 */
export function checkpointStatement(
  progress: Pick<Progress, 'checkpoint' | 'pending'>,
  locale: Locale,
): string {
  const { checkpoint, pending } = progress;
  if (!checkpoint) return translate(locale, 'embed.noCheckpoint');
  const signed = translate(locale, 'embed.checkpoint', {
    sequence: checkpoint.sequence,
    count: checkpoint.count,
    size: checkpoint.size,
  });
  if (pending === 0) return signed;
  const change = new Intl.NumberFormat(INTL_LOCALE[locale], { signDisplay: 'exceptZero' }).format(pending);
  return `${signed} ${translate(locale, 'embed.pending', { change })}`;
}

export async function computeProgress(
  db: Connection,
  slug: string,
  now: Date,
): Promise<Progress | undefined> {
  const campaign = await campaignModels(db).Campaign.findOne({ slug }).lean<Campaign>();
  if (!campaign) return undefined;
  const [log, supporters] = await Promise.all([logCount(db, campaign), supportersTotal(db, now)]);
  const { count, checkpoint } = log;
  return {
    ...goalFigures(campaign, count, now),
    remaining: Math.max(0, campaign.goal - count),
    startsAt: campaign.startsAt.toISOString(),
    endsAt: campaign.endsAt.toISOString(),
    supporters: supporters ?? null,
    checkpoint,
    pending: count - (checkpoint?.count ?? 0),
    updatedAt: now.toISOString(),
  };
}

/**
 * If-None-Match as HTTP compares it, through `fresh` (what Express uses): weak `W/"…"` ETags (a CDN
 * that compressed the body sends those), lists and `*` match. Only the validator is passed on:
 * fetch() adds `Cache-Control: no-cache` to every request with a hand-set If-None-Match, and an
 * origin may still answer such a conditional request 304.
 */
export function revalidates(ifNoneMatch: string | undefined, etag: string): boolean {
  return ifNoneMatch !== undefined && fresh({ 'if-none-match': ifNoneMatch }, { etag });
}

export interface CachedProgress {
  progress: Progress;
  body: string;
  etag: string;
  /** True when the database did not answer in time and this is the last good answer. */
  stale?: boolean;
}

/** How long a reader waits for the database before getting the last good answer instead. */
const WAIT_FOR_DATABASE_MS = 750;
/** The oldest last good answer served while the database is away; older, the route answers 503. */
const MAX_STALE_MS = 60 * 60 * 1000;

interface Entry {
  /** The last good answer (undefined: no such campaign). */
  value?: CachedProgress;
  loadedAt: number;
  expiresAt: number;
  pending?: Promise<CachedProgress | undefined>;
  pendingSince?: number;
}

/**
 * Progress is read on every article view, so each process keeps it for `ttlMs` and lets one
 * database read refresh it however many requests arrive meanwhile. The ETag depends on the
 * numbers only, so an unchanged count answers 304 across refreshes.
 *
 * While the database is away a reader never waits more than WAIT_FOR_DATABASE_MS: they get the
 * last good answer, marked `stale` (up to MAX_STALE_MS old). With nothing ever cached the read
 * fails with 503 not_ready.
 */
export function createProgressCache(options: { db: Connection; ttlMs: number; now: () => Date }) {
  const entries = new Map<string, Entry>();

  async function load(slug: string): Promise<CachedProgress | undefined> {
    const progress = await computeProgress(options.db, slug, options.now());
    if (!progress) return undefined;
    const { updatedAt: _, ...numbers } = progress;
    const etag = `"${createHash('sha1').update(JSON.stringify(numbers)).digest('base64url').slice(0, 20)}"`;
    return { progress, body: JSON.stringify(progress), etag };
  }

  function refresh(slug: string, entry: Entry | undefined): Promise<CachedProgress | undefined> {
    // Unknown slugs are cached too (as undefined); a flood of random ones must not grow memory forever.
    if (entries.size > 1_000) entries.clear();
    const pending = load(slug).then(
      (value) => {
        const now = Date.now();
        entries.set(slug, { value, loadedAt: now, expiresAt: now + options.ttlMs });
        return value;
      },
      (error) => {
        // Keep the last good answer; the next reader starts a new attempt.
        const current = entries.get(slug);
        if (current?.value) entries.set(slug, { ...current, pending: undefined, pendingSince: undefined });
        else entries.delete(slug);
        throw error;
      },
    );
    pending.catch(() => {}); // a reader that stopped waiting must not leave it unhandled
    entries.set(slug, {
      value: entry?.value,
      loadedAt: entry?.loadedAt ?? 0,
      expiresAt: entry?.expiresAt ?? 0,
      pending,
      pendingSince: Date.now(),
    });
    return pending;
  }

  function lastGood(entry: Entry | undefined): CachedProgress {
    if (entry?.value && Date.now() - entry.loadedAt <= MAX_STALE_MS) {
      const progress = { ...entry.value.progress };
      return { ...entry.value, stale: true, body: JSON.stringify({ ...progress, stale: true }) };
    }
    throw new AppError(
      'not_ready',
      'Campaign progress is not available right now. Please try again shortly.',
    );
  }

  return {
    /** The cached progress if it is fresh, without waiting: what the fast path serves. */
    peek(slug: string): CachedProgress | undefined {
      const entry = entries.get(slug);
      return entry && entry.expiresAt > Date.now() ? entry.value : undefined;
    },
    async get(slug: string): Promise<CachedProgress | undefined> {
      const now = Date.now();
      const entry = entries.get(slug);
      if (entry && entry.expiresAt > now) return entry.value;
      const pending = entry?.pending ?? refresh(slug, entry);
      const waited = now - (entries.get(slug)?.pendingSince ?? now);
      const budget = WAIT_FOR_DATABASE_MS - waited;
      // A refresh that has already taken too long: the database is away, answer at once.
      if (budget <= 0 && entry?.value !== undefined) return lastGood(entry);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), Math.max(budget, 0));
      });
      try {
        const result = await Promise.race([pending, timeout]);
        if (result === 'timeout') return lastGood(entries.get(slug));
        return result;
      } catch {
        return lastGood(entries.get(slug));
      } finally {
        clearTimeout(timer);
      }
    },
    clear: () => entries.clear(),
  };
}

export type ProgressCache = ReturnType<typeof createProgressCache>;

/**
 * The number an embed's "All thanks to N supporters" line shows, or undefined to leave the line
 * out: while the total was never counted (never "0" for a newsroom that has supporters), and at 0
 * (a thank-you to nobody says nothing). The JSON keeps the number as it is.
 */
export const thankedSupporters = (progress: Pick<Progress, 'supporters'>): number | undefined =>
  typeof progress.supporters === 'number' && progress.supporters > 0 ? progress.supporters : undefined;
