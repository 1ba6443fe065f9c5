import { readFileSync } from 'node:fs';
import { type Response, Router } from 'express';
import Handlebars from 'handlebars';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { AppError, errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
import { parseInput } from '../http/validate.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import { fromRoot } from '../infra/paths.js';
import { isTimeZone } from '../shared/time.js';
import { requireRole } from '../staff/require-role.js';
import type { StaffAuthConfig } from '../staff/staff-auth.service.js';
import { type Campaign, campaignModels } from './campaign.model.js';
import { countOf } from './campaign.service.js';
import { type ProgressCache, revalidates } from './progress.service.js';
import { progressSvg } from './progress-svg.js';

export interface CampaignRoutesDeps {
  db: Connection;
  clock: Clock;
  staffAuth: StaffAuthConfig;
  /** Shared with the fast path in front of Express (progress-fast-path.ts). */
  progressCache: ProgressCache;
}

// Browsers and CDNs may keep progress briefly; a CDN may serve a stale copy while it refreshes.
export const PUBLIC_CACHE = 'public, max-age=15, s-maxage=30, stale-while-revalidate=60';
const slugParam = z.string().regex(/^[a-z0-9-]{1,60}$/);
const timeZone = z.string().refine(isTimeZone, 'an IANA time zone like Europe/Kyiv');

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
  milestones: z.array(z.number().int().min(1).max(1000)).max(20),
};
const createCampaignSchema = z
  .object({
    ...fields,
    slug: slugParam,
    description: fields.description.default(''),
    timeZone: timeZone.default('UTC'),
    startingOffset: fields.startingOffset.default(0),
    counts: z
      .object({ gifts: z.boolean().default(true), oneTime: z.boolean().default(false) })
      .default({ gifts: true, oneTime: false }),
    milestones: fields.milestones.default([25, 50, 75, 100]),
  })
  .refine((c) => c.endsAt > c.startsAt, { path: ['endsAt'], message: 'must be after startsAt' })
  .meta({ id: 'CampaignCreate' });
const updateCampaignSchema = z
  .object({
    ...fields,
    counts: z.object({ gifts: z.boolean(), oneTime: z.boolean() }).partial(),
  })
  .partial()
  .meta({ id: 'CampaignUpdate' });

/** The update as `$set` paths: `counts.oneTime` alone leaves `counts.gifts` as it is. */
function setPaths(changes: z.infer<typeof updateCampaignSchema>): Record<string, unknown> {
  const { counts, ...rest } = changes;
  const set: Record<string, unknown> = { ...rest };
  for (const [key, value] of Object.entries(counts ?? {})) set[`counts.${key}`] = value;
  return set;
}

export const progressSchema = z
  .object({
    slug: z.string(),
    title: z.string(),
    goal: z.number().int(),
    count: z.number().int(),
    percent: z.number().int(),
    remaining: z.number().int(),
    startsAt: z.string(),
    endsAt: z.string(),
    daysLeft: z.number().int(),
    supporters: z.number().int().meta({ description: 'Active members, all campaigns' }),
    updatedAt: z.string(),
    stale: z.boolean().optional().meta({ description: 'The database is away: the last good answer' }),
  })
  .meta({ id: 'CampaignProgress' });

export function campaignRoutes(deps: CampaignRoutesDeps): Router {
  const router = Router();
  const cache = deps.progressCache;
  const staff = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'admin', 'editor');
  const widgetScript = readFileSync(fromRoot('templates/embed/widget.js'), 'utf8');
  const widgetPage = Handlebars.compile(
    readFileSync(fromRoot('templates/pages/campaign-widget.hbs'), 'utf8'),
  );

  const embeddable = (res: Response) =>
    res.set({
      'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': PUBLIC_CACHE,
      Vary: 'Accept-Encoding',
    });

  async function progressOf(slug: string) {
    const cached = await cache.get(parseInput(slugParam, slug));
    if (!cached) throw new AppError('not_found', 'There is no campaign with this name.');
    return cached;
  }

  router.get('/campaigns/:slug/progress', async (req, res) => {
    // Set before the lookup: the news site's widget must be able to read a 404 too.
    res.set('Access-Control-Allow-Origin', '*');
    const cached = await progressOf(req.params.slug);
    embeddable(res).set('ETag', cached.etag);
    if (revalidates(req.get('if-none-match'), cached.etag)) return res.status(304).end();
    res.type('application/json').send(cached.body);
  });

  router.get('/campaigns/:slug/progress.svg', async (req, res) => {
    const cached = await progressOf(req.params.slug);
    const accent =
      typeof req.query.accent === 'string' && /^#[0-9a-f]{6}$/i.test(req.query.accent)
        ? req.query.accent
        : undefined;
    embeddable(res).type('image/svg+xml').send(progressSvg(cached.progress, accent));
  });

  // The iframe embed, for sites that cannot run third-party scripts: framable by any site.
  router.get('/campaigns/:slug/widget', async (req, res) => {
    const cached = await progressOf(req.params.slug);
    const locale = req.query.locale === 'uk' ? 'uk' : 'en';
    const accent =
      typeof req.query.accent === 'string' && /^#[0-9a-f]{6}$/i.test(req.query.accent)
        ? req.query.accent
        : undefined;
    res.removeHeader('X-Frame-Options');
    res.set({
      'Content-Security-Policy':
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; frame-ancestors *",
      'Cache-Control': PUBLIC_CACHE,
    });
    res.type('html').send(widgetPage({ slug: cached.progress.slug, locale, accent }));
  });

  router.get('/widget.js', (_req, res) => {
    embeddable(res)
      .set('Cache-Control', 'public, max-age=300')
      .type('application/javascript')
      .send(widgetScript);
  });

  router.get('/campaigns', staff, async (_req, res) => {
    const campaigns = await campaignModels(deps.db).Campaign.find().sort({ startsAt: -1 }).lean();
    res.json({
      campaigns: await Promise.all(
        campaigns.map(async (c) => ({ ...present(c), count: await countOf(deps.db, c) })),
      ),
    });
  });

  router.post('/campaigns', staff, async (req, res) => {
    const input = parseInput(createCampaignSchema, req.body);
    try {
      const campaign = await campaignModels(deps.db).Campaign.create(input);
      res.status(201).json(present(campaign.toObject()));
    } catch (error) {
      if (isDuplicateKey(error)) throw new AppError('conflict', `A campaign called "${input.slug}" exists.`);
      throw error;
    }
  });

  router.patch('/campaigns/:slug', staff, async (req, res) => {
    const changes = parseInput(updateCampaignSchema, req.body);
    const { Campaign } = campaignModels(deps.db);
    const existing = await Campaign.findOne({ slug: parseInput(slugParam, req.params.slug) }).lean();
    if (!existing) throw new AppError('not_found', 'There is no campaign with this name.');
    const merged = { ...existing, ...changes, counts: { ...existing.counts, ...changes.counts } };
    if (merged.endsAt <= merged.startsAt) {
      throw new AppError('validation_failed', undefined, [
        { path: 'endsAt', message: 'must be after startsAt' },
      ]);
    }
    await Campaign.updateOne({ _id: existing._id }, { $set: setPaths(changes) });
    cache.clear();
    res.json(present(merged));
  });

  router.post('/campaigns/:slug/end', staff, async (req, res) => {
    const { Campaign } = campaignModels(deps.db);
    const existing = await Campaign.findOne({ slug: parseInput(slugParam, req.params.slug) }).lean();
    if (!existing) throw new AppError('not_found', 'There is no campaign with this name.');
    const now = deps.clock.now();
    const endsAt = new Date(Math.min(existing.endsAt.getTime(), now.getTime()));
    await Campaign.updateOne({ _id: existing._id }, { $set: { endsAt } });
    cache.clear();
    res.json(present({ ...existing, endsAt }));
  });

  return router;
}

function present(c: Omit<Campaign, '_id' | 'createdAt' | 'updatedAt'>) {
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
  };
}

export function campaignDocs(docs: ApiDocs): void {
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: errorBodySchema } },
  });
  const slug = z.object({ slug: slugParam });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/progress',
    tags: ['Campaigns'],
    summary: 'Live progress toward the goal (public, CORS, cacheable, ETag)',
    request: { params: slug },
    responses: {
      200: { description: 'Progress', content: { 'application/json': { schema: progressSchema } } },
      304: { description: 'Unchanged since the ETag sent in If-None-Match' },
      404: error('Unknown campaign'),
    },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/progress.svg',
    tags: ['Campaigns'],
    summary: 'Progress as an SVG image, for emails and pages without JavaScript',
    request: { params: slug },
    responses: {
      200: { description: 'SVG', content: { 'image/svg+xml': { schema: z.string() } } },
      404: error('Unknown campaign'),
    },
  });
  const secured = { security: [{ staffToken: [] }] };
  docs.registerPath({
    method: 'post',
    path: '/campaigns',
    tags: ['Campaigns'],
    summary: 'Create a campaign (admin, editor)',
    ...secured,
    request: { body: { content: { 'application/json': { schema: createCampaignSchema } } } },
    responses: {
      201: { description: 'Created' },
      401: error('No or invalid token'),
      403: error('Role not allowed'),
      409: error('Slug taken'),
      422: error('Invalid fields'),
    },
  });
  docs.registerPath({
    method: 'patch',
    path: '/campaigns/{slug}',
    tags: ['Campaigns'],
    summary: 'Change a campaign (admin, editor)',
    ...secured,
    request: { params: slug, body: { content: { 'application/json': { schema: updateCampaignSchema } } } },
    responses: {
      200: { description: 'Updated' },
      401: error('No or invalid token'),
      403: error('Role not allowed'),
      404: error('Unknown campaign'),
    },
  });
  docs.registerPath({
    method: 'post',
    path: '/campaigns/{slug}/end',
    tags: ['Campaigns'],
    summary: 'End a campaign now (admin, editor)',
    ...secured,
    request: { params: slug },
    responses: {
      200: { description: 'Ended' },
      401: error('No or invalid token'),
      403: error('Role not allowed'),
    },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns',
    tags: ['Campaigns'],
    summary: 'List campaigns with their counts (admin, editor)',
    ...secured,
    responses: {
      200: { description: 'Campaigns' },
      401: error('No or invalid token'),
      403: error('Role not allowed'),
    },
  });
}
