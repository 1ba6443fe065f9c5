import { type Request, type Response, Router } from 'express';
import type { Connection } from 'mongoose';
import { type Campaign, campaignModels } from '../campaigns/campaign.model.js';
import { countOf } from '../campaigns/campaign.service.js';
import {
  type CampaignView,
  createCampaign,
  createCampaignSchema,
  editConflict,
  endCampaign,
  presentCampaign,
  slugParam,
  updateCampaign,
  updateCampaignSchema,
} from '../campaigns/campaign-admin.js';
import { embedOptions, embedSnippets } from '../campaigns/embed-snippets.js';
import type { ProgressCache } from '../campaigns/progress.service.js';
import { AppError, type ErrorDetail } from '../http/errors.js';
import type { Clock } from '../infra/clock.js';
import { campaignReport } from '../reports/drive.reports.js';
import { INTL_LOCALE, inLocale, type Locale, translate } from '../shared/messages.js';
import {
  campaignFormValues,
  campaignFromForm,
  changedFields,
  loadedField,
  mergeAfterConflict,
} from './campaign-form.js';
import { consoleFormats } from './console-locale.js';
import { consoleErrors, localeOf, rolesFor, sendConsolePage } from './console-page.js';
import { consoleRole } from './console-session.js';

// Campaigns in the staff console (admin, editor): list, create, change only what was changed, end
// now; each campaign's page previews the widget, iframe and image with copy-paste snippets, its
// milestones and its count's history. Forms post without JavaScript; errors are shown by each field.

export interface CampaignConsoleDeps {
  db: Connection;
  clock: Clock;
  progressCache: ProgressCache;
}

const stateOf = (c: Pick<Campaign, 'startsAt' | 'endsAt'>, now: Date) =>
  now < c.startsAt ? 'upcoming' : now >= c.endsAt ? 'ended' : 'running';
const stateText = (locale: Locale, c: Pick<Campaign, 'startsAt' | 'endsAt'>, now: Date) =>
  translate(locale, `console.state.${stateOf(c, now)}`);

/** Each field's problem beside it, in the console's language where the catalogue has the message. */
const fieldErrors = (locale: Locale, details: ErrorDetail[] | undefined) =>
  Object.fromEntries(
    (details ?? []).filter((d) => d.path).map((d) => [d.path!.split('.')[0], inLocale(locale, d.message)]),
  );

// Numbers and dates as a reader of the console's language writes them ("1,000", "1 000").
const numbers = (locale: Locale) => new Intl.NumberFormat(INTL_LOCALE[locale]);
/** "16 Nov 2026, 02:45 – 16 Dec 2026, 02:45" on the clocks of the zone the window was set in. */
const windowText = (locale: Locale, c: Pick<Campaign, 'startsAt' | 'endsAt' | 'timeZone'>) =>
  new Intl.DateTimeFormat(INTL_LOCALE[locale], {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: c.timeZone,
  }).formatRange(c.startsAt, c.endsAt);

/** The campaign's slug from the address: the error handler runs outside the route, without req.params. */
const slugInPath = (req: Request) => /^\/console\/campaigns\/([^/?#]+)/.exec(req.originalUrl)?.[1];

/** Where the embeds are served from: the address staff opened the console at (what readers reach). */
const originOf = (req: Request) => `${req.protocol}://${req.get('host')}`;

export function campaignConsoleRoutes(deps: CampaignConsoleDeps): Router {
  const router = Router();
  const editors = consoleRole(...rolesFor('campaigns'));
  const section = 'campaigns';

  router.get('/console/campaigns', consoleErrors(section), editors, async (req, res) => {
    const now = deps.clock.now();
    const locale = localeOf(res);
    const number = numbers(locale);
    const campaigns = await campaignModels(deps.db).Campaign.find().sort({ startsAt: -1 }).lean<Campaign[]>();
    const rows = await Promise.all(
      campaigns.map(async (c) => ({
        ...presentCampaign(c),
        count: number.format(await countOf(deps.db, c)),
        goal: number.format(c.goal),
        window: windowText(locale, c),
        state: stateText(locale, c, now),
      })),
    );
    sendConsolePage(res, 'campaigns', {
      title: 'console.nav.campaigns',
      section,
      campaigns: rows,
      ended: typeof req.query.ended === 'string' ? req.query.ended : undefined,
    });
  });

  const newForm = (res: Response, values: Record<string, unknown>, error?: AppError) =>
    sendConsolePage(
      res,
      'campaign-new',
      {
        title: 'console.campaigns.new',
        section,
        values,
        errors: fieldErrors(localeOf(res), error?.details),
        error: error && (error.details?.length ? translate(localeOf(res), 'form.problem') : error.message),
      },
      error?.status ?? 200,
    );

  router.get('/console/campaigns/new', consoleErrors(section), editors, (_req, res) => {
    const now = deps.clock.now();
    newForm(
      res,
      campaignFormValues({
        slug: '',
        title: '',
        description: '',
        goal: 1000,
        startsAt: now.toISOString(),
        endsAt: new Date(now.getTime() + 30 * 86_400_000).toISOString(),
        timeZone: 'UTC',
        startingOffset: 0,
        counts: { gifts: true, oneTime: false },
        milestones: [25, 50, 75, 100],
        version: 0,
      }),
    );
  });

  router.post(
    '/console/campaigns',
    consoleErrors(section, (res, error, req) => newForm(res, req.body, error)),
    editors,
    async (req, res) => {
      const slug = { slug: req.body?.slug };
      const created = await createCampaign(
        deps.db,
        {
          ...slug,
          ...campaignFromForm(req.body ?? {}, 'UTC', createCampaignSchema, slug),
        },
        { staffId: req.staff!.id },
      );
      deps.progressCache.clear();
      res.redirect(303, `/console/campaigns/${created.slug}?created=1`);
    },
  );

  const campaignPage = async (
    req: Request,
    res: Response,
    error?: AppError,
    typed?: Record<string, unknown>,
  ) => {
    const slug = slugParam.safeParse(req.params?.slug ?? slugInPath(req));
    const campaign = slug.success
      ? await campaignModels(deps.db).Campaign.findOne({ slug: slug.data }).lean<Campaign>()
      : null;
    if (!campaign) throw new AppError('not_found', 'There is no campaign with this name.');
    const view = presentCampaign(campaign);
    const [count, history] = await Promise.all([
      countOf(deps.db, campaign),
      campaignReport(deps.db, view.slug),
    ]);
    const options = embedOptions(req.query);
    const opened = campaignFormValues(view);
    // A colleague saved since this form was opened: their change and the editor's, side by side.
    const locale = localeOf(res);
    const merge =
      error?.code === 'edit_conflict' && typed ? mergeAfterConflict(locale, typed, view) : undefined;
    const number = numbers(locale);
    const dayText = consoleFormats(locale, 'UTC').day; // day keys are already on the campaign's clocks
    const percent = Math.floor((count * 100) / view.goal);
    sendConsolePage(
      res,
      'campaign',
      {
        title: view.title,
        section,
        campaign: view,
        state: stateText(locale, campaign, deps.clock.now()),
        count: number.format(count),
        leadRest: translate(locale, 'console.campaign.lead', { goal: number.format(view.goal), percent }),
        percent,
        milestones: view.milestones.map((m) => ({ percent: m, reached: count * 100 >= view.goal * m })),
        history: (history?.days ?? []).map((d) => ({
          day: dayText(d.day),
          added: number.format(d.added),
          revoked: number.format(d.revoked),
          cumulative: number.format(d.cumulative),
        })),
        values: merge?.values ?? typed ?? { ...opened, loaded: loadedField(opened) },
        notes: merge?.notes ?? {},
        errors: fieldErrors(locale, error?.details),
        error: merge
          ? translate(locale, 'console.campaigns.conflict')
          : error && (error.details?.length ? translate(locale, 'form.problem') : error.message),
        notice: req.query.created
          ? translate(locale, 'console.campaigns.created')
          : req.query.saved
            ? translate(locale, 'console.campaigns.saved')
            : undefined,
        options,
        snippets: embedSnippets(originOf(req), view.slug, options),
      },
      error?.status ?? 200,
    );
  };

  router.get('/console/campaigns/:slug', consoleErrors(section), editors, (req, res) =>
    campaignPage(req, res),
  );

  // The console's script asks for the snippets as the options change (one place writes them).
  router.get('/console/campaigns/:slug/snippets', editors, (req, res) => {
    const slug = slugParam.parse(req.params.slug);
    res.set('Cache-Control', 'no-store').json(embedSnippets(originOf(req), slug, embedOptions(req.query)));
  });

  router.post(
    '/console/campaigns/:slug',
    consoleErrors(section, (res, error, req) => {
      void campaignPage(req, res, error, req.body).catch(() =>
        sendConsolePage(
          res,
          'message',
          { title: 'console.campaigns.notFound', section, message: error.message },
          error.status,
        ),
      );
    }),
    editors,
    async (req, res) => {
      const slug = String(req.params.slug);
      const current = await campaignModels(deps.db)
        .Campaign.findOne({ slug: slugParam.parse(slug) })
        .lean<Campaign>();
      if (!current) throw new AppError('not_found', 'There is no campaign with this name.');
      const typed = campaignFromForm(req.body ?? {}, current.timeZone, updateCampaignSchema);
      // The version the form was opened at; a form without one is treated as stale, never as current.
      const version = /^\d{1,9}$/.test(String(req.body?.version)) ? Number(req.body.version) : -1;
      if (version !== (current.version ?? 0)) throw editConflict(current);
      const changes = changedFields(presentCampaign(current), typed);
      const saved: CampaignView = await updateCampaign(
        deps.db,
        deps.clock,
        slug,
        { ...changes, version },
        { staffId: req.staff!.id },
      );
      deps.progressCache.clear();
      res.redirect(303, `/console/campaigns/${saved.slug}?saved=1`);
    },
  );

  router.post('/console/campaigns/:slug/end', consoleErrors(section), editors, async (req, res) => {
    const ended = await endCampaign(deps.db, deps.clock, String(req.params.slug));
    deps.progressCache.clear();
    res.redirect(303, `/console/campaigns?ended=${encodeURIComponent(ended.slug)}`);
  });

  return router;
}
