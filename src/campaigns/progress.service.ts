import { createHash } from 'node:crypto';
import fresh from 'fresh';
import type { Connection } from 'mongoose';
import { supportersTotal } from '../memberships/supporters.js';
import { type Campaign, campaignModels } from './campaign.model.js';
import { countOf } from './campaign.service.js';

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
  supporters: number;
  updatedAt: string;
}

const DAY_MS = 86_400_000;

export async function computeProgress(
  db: Connection,
  slug: string,
  now: Date,
): Promise<Progress | undefined> {
  const campaign = await campaignModels(db).Campaign.findOne({ slug }).lean<Campaign>();
  if (!campaign) return undefined;
  const [count, supporters] = await Promise.all([countOf(db, campaign), supportersTotal(db, now)]);
  return {
    slug: campaign.slug,
    title: campaign.title,
    goal: campaign.goal,
    count,
    percent: Math.floor((count * 100) / campaign.goal),
    remaining: Math.max(0, campaign.goal - count),
    startsAt: campaign.startsAt.toISOString(),
    endsAt: campaign.endsAt.toISOString(),
    daysLeft: Math.max(0, Math.ceil((campaign.endsAt.getTime() - now.getTime()) / DAY_MS)),
    supporters,
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
}

/**
 * Progress is read on every article view, so each process keeps it for `ttlMs` and lets one
 * database read refresh it however many requests arrive meanwhile. The ETag depends on the
 * numbers only, so an unchanged count answers 304 across refreshes.
 */
export function createProgressCache(options: { db: Connection; ttlMs: number; now: () => Date }) {
  const entries = new Map<
    string,
    { value?: CachedProgress; expiresAt: number; pending?: Promise<CachedProgress | undefined> }
  >();

  async function load(slug: string): Promise<CachedProgress | undefined> {
    const progress = await computeProgress(options.db, slug, options.now());
    if (!progress) return undefined;
    const { updatedAt: _, ...numbers } = progress;
    const etag = `"${createHash('sha1').update(JSON.stringify(numbers)).digest('base64url').slice(0, 20)}"`;
    return { progress, body: JSON.stringify(progress), etag };
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
      if (entry && entry.expiresAt > now && !entry.pending) return entry.value;
      if (entry?.pending) return entry.pending;
      // Unknown slugs are cached too (as undefined); a flood of random ones must not grow memory forever.
      if (entries.size > 1_000) entries.clear();
      const pending = load(slug).then(
        (value) => {
          entries.set(slug, { value, expiresAt: Date.now() + options.ttlMs });
          return value;
        },
        (error) => {
          entries.delete(slug);
          throw error;
        },
      );
      entries.set(slug, { ...entry, expiresAt: entry?.expiresAt ?? 0, pending });
      return pending;
    },
    clear: () => entries.clear(),
  };
}

export type ProgressCache = ReturnType<typeof createProgressCache>;
