import { readFileSync } from 'node:fs';
import { type Response, Router } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { allowAnyOrigin, publicRead } from '../http/cors.js';
import { AppError, errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
import { renderDocument } from '../http/pages.js';
import { framableByAnySite, useApiSecurityHeaders } from '../http/security-headers.js';
import { parseInput } from '../http/validate.js';
import type { Clock } from '../infra/clock.js';
import { fromRoot } from '../infra/paths.js';
import { messagesFor, translate } from '../shared/messages.js';
import { requireRole } from '../staff/require-role.js';
import type { StaffAuthConfig } from '../staff/staff-auth.service.js';
import { campaignModels } from './campaign.model.js';
import { countOf } from './campaign.service.js';
import {
  createCampaign,
  createCampaignSchema,
  endCampaign,
  presentCampaign,
  slugParam,
  updateCampaign,
  updateCampaignSchema,
} from './campaign-admin.js';
import { type EmbedOptions, embedOptions } from './embed-snippets.js';
import {
  checkpointStatement,
  type Progress,
  type ProgressCache,
  revalidates,
  thankedSupporters,
} from './progress.service.js';
import { progressSvg } from './progress-svg.js';

export interface CampaignRoutesDeps {
  db: Connection;
  clock: Clock;
  staffAuth: StaffAuthConfig;
  /** Shared with the fast path in front of Express (progress-fast-path.ts). */
  progressCache: ProgressCache;
  /** The newsroom's sites whose readers the widget asks about (MEMBER_SITE_ORIGINS, src/accounts). */
  memberSiteOrigins: string[];
}

// Browsers and CDNs may keep progress briefly; a CDN may serve a stale copy while it refreshes.
export const PUBLIC_CACHE = 'public, max-age=15, s-maxage=30, stale-while-revalidate=60';
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
    supporters: z.number().int().nullable().meta({
      description: 'Active members, all campaigns; null while not yet counted (show no number then)',
    }),
    checkpoint: z
      .object({
        sequence: z.number().int(),
        size: z.number().int(),
        root: z.string(),
        count: z.number().int(),
        time: z.string(),
      })
      .nullable()
      .meta({
        description:
          "The drive log's latest signed checkpoint (size, base64 root, count); null before the first",
      }),
    pending: z.number().int().meta({
      description: "What the log's count added since that checkpoint: count − checkpoint.count",
    }),
    updatedAt: z.string(),
    stale: z.boolean().optional().meta({ description: 'The database is away: the last good answer' }),
  })
  .meta({ id: 'CampaignProgress' });

export function campaignRoutes(deps: CampaignRoutesDeps): Router {
  const router = Router();
  const cache = deps.progressCache;
  const staff = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'admin', 'editor');
  // The widget's words are the message catalogue's, written into the script once at start.
  const widgetScript = readFileSync(fromRoot('templates/embed/widget.js'), 'utf8')
    .replace('/*@MESSAGES@*/ { en: {}, uk: {} }', JSON.stringify(messagesFor('embed.')))
    .replace('/*@MEMBER_ORIGINS@*/ []', JSON.stringify(deps.memberSiteOrigins));
  const iframeResizeScript = readFileSync(fromRoot('templates/embed/iframe-resize.js'), 'utf8');
  const frameHeightScript = readFileSync(fromRoot('templates/embed/frame-height.js'), 'utf8');
  const framePageScript = readFileSync(fromRoot('templates/embed/frame-page.js'), 'utf8').replace(
    '/*@MEMBER_ORIGINS@*/ []',
    JSON.stringify(deps.memberSiteOrigins),
  );

  // Any origin may also read these (publicRead, src/http/cors.ts).
  const embeddable = (res: Response) =>
    res.set({
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': PUBLIC_CACHE,
      Vary: 'Accept-Encoding',
    });

  async function progressOf(slug: string) {
    const cached = await cache.get(parseInput(slugParam, slug));
    if (!cached) throw new AppError('not_found', 'There is no campaign with this name.');
    return cached;
  }

  // CORS before the lookup: the news site's widget must be able to read a 404 too.
  router.get('/campaigns/:slug/progress', publicRead, async (req, res) => {
    useApiSecurityHeaders(res);
    const cached = await progressOf(req.params.slug);
    embeddable(res).set('ETag', cached.etag);
    if (revalidates(req.get('if-none-match'), cached.etag)) return res.status(304).end();
    res.type('application/json').send(cached.body);
  });

  router.get('/campaigns/:slug/progress.svg', async (req, res) => {
    const cached = await progressOf(req.params.slug);
    const options = embedOptions(req.query);
    allowAnyOrigin(req, res);
    embeddable(res)
      .type('image/svg+xml')
      .send(progressSvg(cached.progress, { ...options, accent: options.accent ?? '#1a56db' }));
  });

  // The iframe embed, for sites that cannot run third-party scripts: framable by any site.
  router.get('/campaigns/:slug/widget', async (req, res) => {
    const cached = await progressOf(req.params.slug);
    const options = embedOptions(req.query);
    framableByAnySite(res);
    res.set({
      'Content-Security-Policy':
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; frame-ancestors *",
      'Cache-Control': PUBLIC_CACHE,
    });
    // refresh: seconds between refreshes (default 60), as the widget's refresh-interval.
    const refresh = Number(req.query.refresh);
    res.type('html').send(
      renderDocument('campaign-widget', {
        ...iframeView(cached.progress, options),
        refresh: Number.isInteger(refresh) && refresh >= 1 && refresh <= 3600 ? refresh : undefined,
      }),
    );
  });

  router.get('/widget.js', publicRead, (_req, res) => {
    embeddable(res)
      .set('Cache-Control', 'public, max-age=300')
      .type('application/javascript')
      .send(widgetScript);
  });

  // The iframe embed's height, posted by the framed page and applied by the host page's script.
  for (const [path, script] of [
    ['/embed/iframe-resize.js', iframeResizeScript],
    ['/embed/frame-height.js', frameHeightScript],
    ['/embed/frame-page.js', framePageScript],
  ] as const) {
    router.get(path, publicRead, (_req, res) => {
      embeddable(res).set('Cache-Control', 'public, max-age=300').type('application/javascript').send(script);
    });
  }

  router.get('/campaigns', staff, async (_req, res) => {
    const campaigns = await campaignModels(deps.db).Campaign.find().sort({ startsAt: -1 }).lean();
    res.json({
      campaigns: await Promise.all(
        campaigns.map(async (c) => ({ ...presentCampaign(c), count: await countOf(deps.db, c) })),
      ),
    });
  });

  router.post('/campaigns', staff, async (req, res) => {
    res.status(201).json(await createCampaign(deps.db, req.body, { staffId: req.staff!.id }));
  });

  router.patch('/campaigns/:slug', staff, async (req, res) => {
    const campaign = await updateCampaign(deps.db, deps.clock, String(req.params.slug), req.body, {
      staffId: req.staff!.id,
    });
    cache.clear();
    res.json(campaign);
  });

  router.post('/campaigns/:slug/end', staff, async (req, res) => {
    const campaign = await endCampaign(deps.db, deps.clock, String(req.params.slug));
    cache.clear();
    res.json(campaign);
  });

  return router;
}

/** What the iframe page shows, in its language: it is complete without a script (no fetch to wait for). */
function iframeView(progress: Progress, options: EmbedOptions) {
  const { locale } = options;
  const thanked = thankedSupporters(progress);
  const summary = translate(locale, 'embed.goal', { count: progress.count, goal: progress.goal });
  const campaign = `?campaign=${encodeURIComponent(progress.slug)}&locale=${locale}`;
  return {
    slug: progress.slug,
    locale,
    accent: options.accent,
    theme: options.theme,
    // auto starts light (the usual host) until the host page's script says it is dark.
    look: options.theme === 'dark' ? 'dark' : 'light',
    title: progress.title,
    label: translate(locale, 'embed.label'),
    goal: progress.goal,
    count: progress.count,
    percent: progress.percent,
    barPercent: Math.min(100, Math.max(0, progress.percent)),
    summary,
    // The count links to its proof; its title names the checkpoint (README, "What each embed says
    // about the log").
    verifyUrl: `/campaigns/${encodeURIComponent(progress.slug)}/verify`,
    checkpointText: checkpointStatement(progress, locale),
    checkpoint: progress.checkpoint,
    pending: progress.pending,
    days:
      progress.daysLeft > 0
        ? translate(locale, 'embed.daysLeft', { count: progress.daysLeft })
        : translate(locale, 'embed.ended'),
    // Left out while unknown and at 0 (thankedSupporters).
    supportersLine:
      options.supporters && thanked !== undefined
        ? translate(locale, 'embed.supporters', { count: thanked })
        : undefined,
    join: translate(locale, 'embed.join'),
    thanks: translate(locale, 'embed.thanksMember'),
    gift: translate(locale, 'embed.gift'),
    joinUrl: `/membership${campaign}`,
    giftUrl: `/gifts${campaign}`,
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
      409: error('edit_conflict: changed since the version sent; `current` is the campaign now'),
      422: error('Invalid fields'),
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
