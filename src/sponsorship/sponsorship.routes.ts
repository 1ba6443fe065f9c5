import { type Request, type Response, Router } from 'express';
import type Stripe from 'stripe';
import { z } from 'zod';
import { type Campaign, campaignModels } from '../campaigns/campaign.model.js';
import { publicRead } from '../http/cors.js';
import { AppError, errorBodySchema } from '../http/errors.js';
import { inFixedTime } from '../http/fixed-time.js';
import { errorsAsPage, wantsPage } from '../http/negotiate.js';
import type { ApiDocs } from '../http/openapi.js';
import { sendPage } from '../http/pages.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import { emailField, idempotencyKeyHeader, parseInput } from '../http/validate.js';
import { METADATA_APP } from '../memberships/checkout.service.js';
import { type CheckoutLimits, takeCheckoutSlots } from '../memberships/checkout-limits.js';
import { formatMoney, type Locale, type MessageKey, translate } from '../shared/messages.js';
import { requireRole } from '../staff/require-role.js';
import type { StaffAuthConfig } from '../staff/staff-auth.service.js';
import { poolState } from './pool.service.js';
import { type SponsorshipRequest, sponsorshipModels } from './sponsorship.model.js';
import {
  confirmSponsorshipRequest,
  decideRequest,
  poolReport,
  requestSponsorship,
  type SponsorshipDeps,
  sendSponsorReports,
  waitingReason,
} from './sponsorship.service.js';

// Thin handlers: parse, call the service, answer. Readers' routes work as plain forms; staff routes
// are JSON for the console.

export interface SponsorshipRoutesDeps extends SponsorshipDeps {
  checkoutLimits: CheckoutLimits;
  /** The least a supporter may give as an amount, per currency (the plans' one-time minimum). */
  minimumAmounts: Partial<Record<string, number>>;
  /** STRIPE_AUTOMATIC_TAX, as membership checkout applies it. */
  automaticTax?: boolean;
  stripe: Stripe | null;
  staffAuth: StaffAuthConfig;
  brandName: string;
  /** Requests per IP per 10 minutes. */
  requestsPerIp: number;
  /** Requests answer no sooner than this (SPONSORSHIP_REQUEST_ANSWER_MS, src/config/schema.ts says why). */
  requestAnswerMs: number;
}

const slug = z.string().regex(/^[a-z0-9-]{1,60}$/);
const checkoutSchema = z
  .object({
    campaign: slug,
    email: emailField,
    currency: z.enum(['usd', 'eur', 'gbp']),
    memberships: z.coerce.number().int().min(1).max(100).optional(),
    amount: z.coerce
      .number()
      .int()
      .positive()
      .max(10_000_000)
      .optional()
      .meta({ description: "Minor units; at least the plans' one-time minimum in that currency" }),
  })
  .refine((c) => (c.memberships === undefined) !== (c.amount === undefined), {
    path: ['memberships'],
    message: 'give either memberships or amount',
  })
  .meta({ id: 'SponsorshipCheckout' });
const requestSchema = z
  .object({
    campaign: slug,
    email: emailField,
    reason: z.string().trim().min(1).max(500),
    country: z
      .string()
      .trim()
      .regex(/^[A-Za-z]{2}$/, 'a two-letter country code')
      .transform((c) => c.toUpperCase()),
    locale: z.enum(['en', 'uk']).default('en'),
  })
  .meta({ id: 'SponsorshipRequest' });
const confirmSchema = z.object({
  request: z.string().regex(/^[0-9a-f]{24}$/),
  token: z.string().min(10).max(100),
});
const decisionsSchema = z
  .object({
    ids: z
      .array(z.string().regex(/^[0-9a-f]{24}$/))
      .min(1)
      .max(200),
    decision: z.enum(['approve', 'decline']),
    note: z.string().max(500).optional(),
  })
  .meta({ id: 'SponsorshipDecisions' });

export function sponsorshipRoutes(deps: SponsorshipRoutesDeps): Router {
  const router = Router();
  const staff = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'admin', 'editor');
  const finance = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'finance', 'admin');
  const page = (res: Response, name: string, data: Record<string, unknown>, status = 200) =>
    sendPage(res, name, { title: 'sponsorship.title', ...data }, status);
  // A reader's answer: on a page in their language, for API clients in English (the API's language).
  const answer = (req: Request, res: Response, key: MessageKey, status = 200) => {
    if (wantsPage(req))
      return page(
        res,
        'sponsorship-message',
        { message: translate(res.locals.locale as Locale, key) },
        status,
      );
    res.status(status).json({ message: translate('en', key) });
  };

  async function campaignOf(value: string): Promise<Campaign> {
    const campaign = await campaignModels(deps.db)
      .Campaign.findOne({ slug: parseInput(slug, value) })
      .lean<Campaign>();
    if (!campaign) throw new AppError('not_found', 'There is no campaign with this name.');
    return campaign;
  }

  router.post('/sponsorships/checkout', async (req, res) => {
    const input = parseInput(checkoutSchema, req.body);
    const idempotencyKey = parseInput(idempotencyKeyHeader, req.get('idempotency-key'));
    if (!deps.stripe) throw new AppError('payments_not_configured');
    const campaign = await campaignOf(input.campaign);
    await takeCheckoutSlots(deps.db, deps.clock.now(), deps.checkoutLimits, {
      ip: req.ip,
      email: input.email,
    });
    const price = deps.prices[input.currency];
    if (!price)
      throw new AppError('validation_failed', undefined, [{ path: 'currency', message: 'not offered' }]);
    // A small free amount is what a card tester tries: the same floor as a one-time contribution.
    const minimum = deps.minimumAmounts[input.currency] ?? 0;
    if (input.amount !== undefined && input.amount < minimum) {
      const least = formatMoney(minimum, input.currency.toUpperCase(), 'en');
      throw new AppError('validation_failed', undefined, [{ path: 'amount', message: `at least ${least}` }]);
    }
    const amount = input.amount ?? price * input.memberships!;
    const metadata = { app: METADATA_APP, kind: 'sponsorship', campaignId: String(campaign._id) };
    const session = await deps.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: input.currency,
              unit_amount: amount,
              product_data: {
                name: input.memberships
                  ? `Sponsor ${input.memberships} reader${input.memberships > 1 ? 's' : ''} for a year`
                  : 'Sponsor readers who cannot pay',
              },
              // Memberships for others, taxed like a gift; the amount given is the amount paid.
              ...(deps.automaticTax ? { tax_behavior: 'inclusive' as const } : {}),
            },
          },
        ],
        ...(deps.automaticTax ? { automatic_tax: { enabled: true } } : {}),
        customer_email: input.email,
        metadata,
        payment_intent_data: { metadata },
        success_url: `${deps.publicBaseUrl}/membership/thanks`,
        cancel_url: `${deps.publicBaseUrl}/membership`,
      },
      { idempotencyKey: idempotencyKey && `sponsor:${idempotencyKey}` },
    );
    if (wantsPage(req) && session.url) return res.redirect(303, session.url);
    res.status(201).json({ sessionId: session.id, url: session.url });
  });

  const requestForm = errorsAsPage((res, error, req) => {
    const campaign = typeof req.body?.campaign === 'string' ? req.body.campaign : '';
    // After a post, the language links lead back to this form (src/http/pages.ts).
    const formPage = `/sponsorships/request?${new URLSearchParams({ campaign })}`;
    page(res, 'sponsorship-request', { campaign, error, formPage }, error.status);
  });
  router.get('/sponsorships/request', (req, res) => {
    page(res, 'sponsorship-request', {
      campaign: typeof req.query.campaign === 'string' ? req.query.campaign : '',
    });
  });
  router.post('/sponsorships/requests', requestForm, async (req, res) => {
    // Validated first: a malformed request uses up no one's allowance.
    const input = parseInput(requestSchema, req.body);
    await enforceRateLimit(deps.db, deps.clock.now(), {
      key: `sponsor-request-ip:${req.ip}`,
      limit: deps.requestsPerIp,
      windowMs: 10 * 60_000,
    });
    const campaign = await campaignOf(input.campaign);
    // Whether this address already asked must not show, not even in the time (see fixed-time.ts).
    await inFixedTime(deps.requestAnswerMs, () => requestSponsorship(deps, { ...input, campaign }));
    answer(req, res, 'sponsorship.request.sent', 202);
  });

  // Opening the link changes nothing (mail scanners open links); the button's POST confirms.
  router.get('/sponsorships/confirm', (req, res) => {
    const query = parseInput(confirmSchema, req.query);
    page(res, 'sponsorship-confirm', query);
  });
  router.post('/sponsorships/confirm', async (req, res) => {
    const input = parseInput(confirmSchema, req.body);
    const request = await confirmSponsorshipRequest(deps, input.request, input.token);
    if (!request) throw new AppError('invalid_link');
    answer(req, res, 'sponsorship.confirmed');
  });

  router.get('/sponsorships/:slug/requests', staff, async (req, res) => {
    const campaign = await campaignOf(String(req.params.slug));
    const status = parseInput(
      z.enum(['unconfirmed', 'requested', 'waiting_for_funds', 'approved', 'declined']).default('requested'),
      req.query.status,
    );
    const requests = await sponsorshipModels(deps.db)
      .Request.find({ campaignId: campaign._id, status })
      .sort({ createdAt: 1 })
      .limit(500)
      .lean<SponsorshipRequest[]>();
    res.json({
      requests: requests.map((r) => ({
        id: String(r._id),
        email: r.email,
        reason: r.reason,
        country: r.country,
        locale: r.locale,
        status: r.status,
        note: r.note,
        createdAt: r.createdAt,
      })),
    });
  });

  // Bulk decisions: each request decided once; an approval draws from the pool or, with no money
  // for it, is queued (`waiting_for_funds`, with a code and a message saying why): one 4xx for a
  // batch would hide the requests that were granted.
  router.post('/sponsorships/:slug/decisions', staff, async (req: Request, res) => {
    const campaign = await campaignOf(String(req.params.slug));
    const input = parseInput(decisionsSchema, req.body);
    const by = `staff:${req.staff?.email ?? 'unknown'}`;
    const results: { id: string; outcome: string; code?: string; message?: string }[] = [];
    for (const id of input.ids)
      results.push({
        id,
        outcome: await decideRequest(deps, id, { decision: input.decision, note: input.note, by }),
      });
    if (results.some((r) => r.outcome === 'waiting_for_funds')) {
      const why = await waitingReason(deps, String(campaign._id));
      for (const r of results) if (r.outcome === 'waiting_for_funds') Object.assign(r, why);
    }
    res.json({ results });
  });

  router.get('/reports/sponsorship/:slug', finance, async (req, res) => {
    const campaign = await campaignOf(String(req.params.slug));
    res.json({ campaign: campaign.slug, pools: await poolReport(deps, String(campaign._id)) });
  });

  router.post('/sponsorships/:slug/sponsor-reports', staff, async (req, res) => {
    const campaign = await campaignOf(String(req.params.slug));
    const period = parseInput(z.object({ period: z.string().regex(/^[\w-]{1,40}$/) }), req.body).period;
    res.json({ sent: (await sendSponsorReports(deps, campaign, period)).length });
  });

  // For the widget: how many readers the drive's supporters have sponsored (public, cacheable).
  router.get('/campaigns/:slug/sponsored', publicRead, async (req, res) => {
    const campaign = await campaignOf(String(req.params.slug));
    let readers = 0;
    for (const [currency, price] of Object.entries(deps.prices))
      readers += (await poolState(deps.db, String(campaign._id), currency, price)).allocations;
    res.set('Cache-Control', 'public, max-age=60').json({ readersSponsored: readers });
  });

  return router;
}

export function sponsorshipDocs(docs: ApiDocs): void {
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: errorBodySchema } },
  });
  const ok = (description: string) => ({ description });
  const params = z.object({ slug });
  const secured = { security: [{ staffToken: [] }] };
  docs.registerPath({
    method: 'post',
    path: '/sponsorships/checkout',
    tags: ['Sponsorship'],
    summary: 'Pay into a campaign’s sponsorship pool (whole memberships or any amount) via Stripe Checkout',
    request: { body: { content: { 'application/json': { schema: checkoutSchema } } } },
    responses: {
      201: ok('Checkout session'),
      422: error('Invalid fields'),
      503: error('Payments not configured'),
    },
  });
  docs.registerPath({
    method: 'post',
    path: '/sponsorships/requests',
    tags: ['Sponsorship'],
    summary:
      'A reader asks for a sponsored membership (double opt-in by email; same answer for every address)',
    request: { body: { content: { 'application/json': { schema: requestSchema } } } },
    responses: {
      202: ok('Confirmation sent'),
      422: error('Invalid fields'),
      429: error('Too many requests'),
    },
  });
  docs.registerPath({
    method: 'post',
    path: '/sponsorships/{slug}/decisions',
    tags: ['Sponsorship'],
    summary: 'Approve or decline requests in bulk, with a note (admin, editor)',
    description:
      'An approval the pool cannot pay for (empty, or in deficit after refunds) is queued: its outcome is `waiting_for_funds` with a `code` (`pool_empty`, `pool_deficit`) and a `message`, and the request is listed under `status=waiting_for_funds`. Approve it again once money came in.',
    ...secured,
    request: { params, body: { content: { 'application/json': { schema: decisionsSchema } } } },
    responses: { 200: ok('Outcome per request'), 401: error('No token'), 403: error('Role not allowed') },
  });
  docs.registerPath({
    method: 'get',
    path: '/reports/sponsorship/{slug}',
    tags: ['Sponsorship'],
    summary: 'Pool balance, money in, refunds, memberships given and deficit, per currency (finance, admin)',
    description:
      '`deficit` (minor units) is what refunds and lost disputes took beyond what was left after memberships were given; those memberships stand, and approvals wait until new money covers the deficit and a membership.',
    ...secured,
    request: { params },
    responses: { 200: ok('Pools'), 401: error('No token'), 403: error('Role not allowed') },
  });
  docs.registerPath({
    method: 'get',
    path: '/campaigns/{slug}/sponsored',
    tags: ['Sponsorship'],
    summary: 'How many readers the drive’s supporters have sponsored (public, CORS)',
    request: { params },
    responses: { 200: ok('{ readersSponsored }'), 404: error('Unknown campaign') },
  });
}
