import { readFileSync } from 'node:fs';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { AppError, type ErrorCode, errorBodySchema } from '../http/errors.js';
import { errorsAsPage, wantsPage } from '../http/negotiate.js';
import type { ApiDocs } from '../http/openapi.js';
import { sendPage } from '../http/pages.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import { emailField, idempotencyKeyHeader, parseInput } from '../http/validate.js';
import { fromRoot } from '../infra/paths.js';
import { verifyLink } from '../infra/signed-links.js';
import { createCheckoutSession } from '../memberships/checkout.service.js';
import { type CheckoutLimits, takeCheckoutSlots } from '../memberships/checkout-limits.js';
import { findMemberById } from '../memberships/member-keys.js';
import { offeredCurrencies } from '../memberships/membership-form.js';
import type { Plans } from '../memberships/plans.js';
import {
  buttonScript,
  formatMoney,
  INTL_LOCALE,
  inLocale,
  isLocale,
  type Locale,
  type MessageKey,
  translate,
} from '../shared/messages.js';
import { calendarKeys } from '../shared/time.js';
import { type Gift, giftModel } from './gift.model.js';
import { deliveryDayValue, describeDeliveryDay } from './gift-common.js';
import { resendGift } from './gift-delivery.js';
import type { GiftDeps } from './gift-deps.js';
import { giftOptionsSchema } from './gift-options.js';
import { createGiftCheckout, updateGiftBeforeDelivery } from './gift-purchase.js';
import { redeemGift, viewGift } from './gift-redemption.js';

export interface GiftRoutesDeps extends GiftDeps {
  plans: Plans;
  /** Redemption attempts per IP per 10 minutes, across processes. */
  redeemLimitPerIp: number;
  checkoutLimits: CheckoutLimits;
  /** STRIPE_AUTOMATIC_TAX, as membership checkout applies it. */
  automaticTax?: boolean;
}

const checked = z.preprocess((v) => v === true || v === 'true' || v === 'on', z.boolean());
const purchaseSchema = z
  .object({
    purchaserName: z.string().trim().min(1).max(100),
    purchaserEmail: emailField,
    recipientName: z.string().trim().min(1).max(100),
    recipientEmail: emailField,
    message: z.string().max(500, translate('en', 'gifts.problem.messageLength')).default(''),
    durationMonths: z.coerce.number().int().positive(),
    currency: z.enum(['usd', 'eur', 'gbp']),
    deliverOn: z.iso.date('a date like 2026-12-24'),
    locale: z.enum(['en', 'uk']).default('en'),
    showPurchaserName: checked.default(true),
    campaign: z
      .string()
      .regex(/^[a-z0-9-]{1,60}$/)
      .optional(),
  })
  .meta({ id: 'GiftPurchase' });
const redeemSchema = z.object({ code: z.string().min(16).max(64), email: emailField });
const idParam = z.string().regex(/^[0-9a-f]{24}$/);

// A gift that cannot be redeemed: its catalogue error, and what the page tells the recipient (in
// their language; API clients get the message in English).
const STATE_ERRORS: Record<string, { code: ErrorCode; problem: MessageKey }> = {
  unknown: { code: 'gift_not_found', problem: 'gifts.problem.unknown' },
  redeemed: { code: 'gift_already_redeemed', problem: 'gifts.problem.redeemed' },
  expired: { code: 'gift_expired', problem: 'gifts.problem.expired' },
  refunded: { code: 'gift_refunded', problem: 'gifts.problem.refunded' },
  not_yet: { code: 'gift_not_ready', problem: 'gifts.problem.notYet' },
};
const HEADING_FOR_CODE = new Map(
  Object.values(STATE_ERRORS).map((e) => [e.code as string, `${e.problem}.heading` as MessageKey]),
);

const campaignOf = (value: unknown) =>
  typeof value === 'string' && /^[a-z0-9-]{1,60}$/.test(value) ? value : undefined;

const page = (res: Response, name: string, data: Record<string, unknown>, status = 200) =>
  sendPage(res, name, { title: 'gifts.title', ...data }, status);

const stateError = (state: string) => {
  const { code, problem } = STATE_ERRORS[state]!;
  return new AppError(code, translate('en', problem));
};

/** An error as a page shows it: its message and field problems in the reader's language. */
const readerError = (res: Response, error: AppError) => {
  const locale = res.locals.locale as Locale;
  return {
    message: inLocale(locale, error.message),
    details: error.details?.map((d) => ({ ...d, message: inLocale(locale, d.message) })),
  };
};

// Browsers see a page about the gift; API clients the JSON error.
const redeemErrors = errorsAsPage((res, error) => {
  const locale = res.locals.locale as Locale;
  page(
    res,
    'gift-redeem',
    {
      heading: translate(locale, HEADING_FOR_CODE.get(error.code) ?? 'gifts.problem.heading'),
      message: inLocale(locale, error.message),
    },
    error.status,
  );
});

export function giftRoutes(deps: GiftRoutesDeps): Router {
  const router = Router();
  router.get('/gifts/options', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(deps.options);
  });
  router.get('/gifts', (req, res) => giftForm(deps, req, res));
  // A browser posting the form sees it again with what went wrong.
  const checkoutErrors = errorsAsPage((res, error, req) => giftForm(deps, req, res, error));
  router.post('/gifts/checkout', checkoutErrors, (req, res) => buyGift(deps, req, res));
  router.get('/gifts/thanks', (_req, res) => thanks(res));
  router.get('/gifts/redeem', redeemErrors, (req, res) => showGift(deps, req, res));
  router.post('/gifts/redeem', redeemErrors, (req, res) => redeem(deps, req, res));
  // A bad or cut link from an email, opened in a browser: a page saying so, not a JSON body.
  const linkErrors = errorsAsPage((res, error) =>
    page(
      res,
      'gift-redeem',
      { heading: inLocale(res.locals.locale as Locale, error.message), message: '' },
      error.status,
    ),
  );
  router.get('/gifts/manage', linkErrors, (req, res) => managePage(deps, req, res));
  router.post('/gifts/manage', (req, res) => manageGift(deps, req, res));
  router.get('/gifts/continue', linkErrors, (req, res) => continuePage(deps, req, res));
  const continueErrors = errorsAsPage((res, error, req) => {
    void continuePage(deps, req, res, error).catch(() =>
      page(
        res,
        'gift-redeem',
        { heading: inLocale(res.locals.locale as Locale, error.message), message: '' },
        error.status,
      ),
    );
  });
  router.post('/gifts/continue', continueErrors, (req, res) => continueAsMember(deps, req, res));
  const button = readFileSync(fromRoot('templates/embed/membership-button.js'), 'utf8');
  router.get('/embed/gift-button.js', (_req, res) => giftButton(button, res));
  return router;
}

/** Each duration in the reader's words with its price in every currency it is sold in. */
function giftChoices(deps: GiftRoutesDeps, locale: Locale) {
  const currencies = (['usd', 'eur', 'gbp'] as const).filter((c) =>
    deps.options.durations.some((d) => d.prices[c]),
  );
  return {
    currencies,
    durations: deps.options.durations.map((d) => ({
      months: d.months,
      label: translate(locale, 'gifts.months', { count: d.months }),
      prices: currencies
        .filter((c) => d.prices[c] !== undefined)
        .map((c) => formatMoney(d.prices[c]!, c.toUpperCase(), locale))
        .join(' · '),
    })),
  };
}

function giftForm(deps: GiftRoutesDeps, req: Request, res: Response, error?: AppError) {
  const now = deps.clock.now();
  const campaign = campaignOf(req.query.campaign ?? req.body?.campaign);
  page(
    res,
    'gifts',
    {
      ...giftChoices(deps, res.locals.locale as Locale),
      today: calendarKeys(now, deps.timeZone).day,
      lastDay: calendarKeys(new Date(now.getTime() + 365 * 86_400_000), deps.timeZone).day,
      campaign,
      error: error && readerError(res, error),
      // After a post, the language links lead to this form (src/http/pages.ts).
      formPage: campaign ? `/gifts?${new URLSearchParams({ campaign })}` : '/gifts',
    },
    error?.status,
  );
}

/** POST /gifts/checkout: the gift is stored, then the purchaser goes to Stripe Checkout. */
async function buyGift(deps: GiftRoutesDeps, req: Request, res: Response) {
  const isForm = req.is('application/x-www-form-urlencoded') === 'application/x-www-form-urlencoded';
  const input = parseInput(purchaseSchema, {
    // An unticked checkbox is absent from a form post.
    showPurchaserName: isForm ? 'false' : true,
    ...req.body,
  });
  const idempotencyKey = parseInput(idempotencyKeyHeader, req.get('idempotency-key'));
  await takeCheckoutSlots(deps.db, deps.clock.now(), deps.checkoutLimits, {
    ip: req.ip,
    email: input.purchaserEmail,
  });
  const { giftId, url } = await createGiftCheckout(
    deps,
    {
      purchaser: { name: input.purchaserName, email: input.purchaserEmail },
      recipient: { name: input.recipientName, email: input.recipientEmail },
      message: input.message,
      durationMonths: input.durationMonths,
      currency: input.currency,
      deliverOn: input.deliverOn,
      locale: input.locale,
      showPurchaserName: input.showPurchaserName,
      campaign: input.campaign,
    },
    { idempotencyKey, automaticTax: deps.automaticTax },
  );
  if (wantsPage(req)) return res.redirect(303, url);
  res.status(201).json({ giftId, url });
}

function thanks(res: Response) {
  const locale = res.locals.locale as Locale;
  page(res, 'gift-redeem', {
    heading: translate(locale, 'gifts.thanks.heading'),
    message: translate(locale, 'gifts.thanks'),
  });
}

/** GET /gifts/redeem: opening the link shows the gift and changes nothing; the button redeems. */
async function showGift(deps: GiftRoutesDeps, req: Request, res: Response) {
  const code = typeof req.query.code === 'string' ? req.query.code : '';
  const view = await viewGift(deps, code);
  if (view.state !== 'ready') throw stateError(view.state);
  const { gift } = view;
  page(res, 'gift-redeem', {
    heading: translate(res.locals.locale as Locale, 'gifts.redeem.heading', { name: gift.recipient.name }),
    gift: { durationMonths: gift.durationMonths, message: gift.message },
    from: gift.showPurchaserName ? gift.purchaser.name : undefined,
    code,
    email: gift.recipient.email,
  });
}

async function redeem(deps: GiftRoutesDeps, req: Request, res: Response) {
  // Validated first: a malformed request is refused for that and uses up no one's allowance.
  const { code, email } = parseInput(redeemSchema, req.body);
  await enforceRateLimit(deps.db, deps.clock.now(), {
    key: `gift-redeem-ip:${req.ip}`,
    limit: deps.redeemLimitPerIp,
    windowMs: 10 * 60_000,
  });
  const result = await redeemGift(deps, code, email);
  if (result.state !== 'ready') throw stateError(result.state);
  const locale = res.locals.locale as Locale;
  page(res, 'gift-redeem', {
    heading: translate(locale, 'gifts.redeemed.heading'),
    message: translate(locale, 'gifts.redeemed.message', {
      count: result.gift.durationMonths,
      url: `${deps.publicBaseUrl}/account`,
    }),
  });
}

/** The gift a purchaser's signed manage link names. */
function managedGift(deps: GiftRoutesDeps, req: Request): string {
  const { g, sig } = parseInput(z.object({ g: idParam, sig: z.string().min(20).max(100) }), req.query);
  if (!verifyLink(deps.linkSecret, sig, 'gift-manage', g))
    throw new AppError('forbidden', translate('en', 'error.link'));
  return g;
}

async function managePage(deps: GiftRoutesDeps, req: Request, res: Response, message?: MessageKey) {
  const gift = await giftModel(deps.db).findById(managedGift(deps, req)).lean<Gift>();
  if (!gift) throw new AppError('not_found');
  const locale = res.locals.locale as Locale;
  page(res, 'gift-manage', {
    action: req.originalUrl,
    status: translate(locale, `gifts.status.${gift.status}`),
    recipientName: gift.recipient.name,
    recipientEmail: gift.recipient.email,
    deliverOn: describeDeliveryDay(gift, deps.timeZone, INTL_LOCALE[locale]),
    deliverOnValue: deliveryDayValue(gift, deps.timeZone),
    canEdit: gift.status === 'paid',
    canResend: gift.status === 'delivered',
    message: message && translate(locale, message),
  });
}

/** POST /gifts/manage: resend a delivered gift, or change the recipient's email or day before delivery. */
async function manageGift(deps: GiftRoutesDeps, req: Request, res: Response) {
  const giftId = managedGift(deps, req);
  if (req.body?.action === 'resend') {
    await resendGift(deps, giftId);
    return managePage(deps, req, res, 'gifts.manage.resent');
  }
  const changes = parseInput(z.object({ recipientEmail: emailField, deliverOn: z.iso.date() }), req.body);
  await updateGiftBeforeDelivery(deps, giftId, changes);
  return managePage(deps, req, res, 'gifts.manage.saved');
}

// A gift member continuing as a paying member: they choose the tier and how often, then
// Checkout with a trial until the gift ends. The link names the member and is signed.
async function continuing(deps: GiftRoutesDeps, query: unknown) {
  const { m, sig } = parseInput(z.object({ m: idParam, sig: z.string().min(20).max(100) }), query);
  if (!verifyLink(deps.linkSecret, sig, 'gift-continue', m))
    throw new AppError('forbidden', translate('en', 'error.link'));
  const member = await findMemberById(deps.db, m);
  if (!member) throw new AppError('not_found');
  const lastGift = await giftModel(deps.db)
    .findOne({ redeemedBy: member._id })
    .sort({ redeemedAt: -1 })
    .lean<Gift>();
  const offered = deps.plans.tiers.some((t) => t.prices[lastGift?.currency as 'eur'])
    ? (lastGift!.currency as 'eur')
    : offeredCurrencies(deps.plans)[0]!;
  return { member, currency: offered };
}

const choiceOf = (deps: GiftRoutesDeps) =>
  z.object({
    plan: z.string().refine((id) => deps.plans.tiers.some((t) => t.id === id), translate('en', 'error.plan')),
    interval: z.enum(['month', 'year']),
  });

async function continuePage(deps: GiftRoutesDeps, req: Request, res: Response, error?: AppError) {
  const { member, currency } = await continuing(deps, req.query);
  const locale = res.locals.locale as Locale;
  const chosen = (req.body ?? {}) as { plan?: string; interval?: string };
  page(
    res,
    'gift-continue',
    {
      title: 'gifts.continue.title',
      action: req.originalUrl,
      currency: currency.toUpperCase(),
      name: member.name,
      endsOn:
        member.currentPeriodEnd &&
        new Intl.DateTimeFormat(INTL_LOCALE[locale], { dateStyle: 'long', timeZone: deps.timeZone }).format(
          member.currentPeriodEnd,
        ),
      tiers: deps.plans.tiers.map((tier, i) => ({
        id: tier.id,
        name: tier.name,
        description: tier.description,
        checked: chosen.plan ? chosen.plan === tier.id : i === 0,
        month:
          tier.prices[currency] && formatMoney(tier.prices[currency].month, currency.toUpperCase(), locale),
        year:
          tier.prices[currency] && formatMoney(tier.prices[currency].year, currency.toUpperCase(), locale),
      })),
      yearly: chosen.interval === 'year',
      error: error && readerError(res, error),
    },
    error?.status,
  );
}

/** POST /gifts/continue: Checkout for the chosen membership, its trial running until the gift ends. */
async function continueAsMember(deps: GiftRoutesDeps, req: Request, res: Response) {
  const { member, currency } = await continuing(deps, req.query);
  const { plan, interval } = parseInput(choiceOf(deps), req.body);
  const sessions = deps.stripe ?? deps.localCheckout;
  if (!sessions) throw new AppError('payments_not_configured');
  const session = await createCheckoutSession(
    { db: deps.db, stripe: sessions, plans: deps.plans, publicBaseUrl: deps.publicBaseUrl },
    {
      kind: 'membership',
      plan,
      interval,
      currency,
      email: member.email,
      locale: isLocale(member.locale) ? member.locale : 'en',
    },
    // One Checkout per member and choice: pressing again resumes it; another choice is another.
    `continue-${member._id}-${plan}-${interval}`,
    {
      trialEnd:
        member.currentPeriodEnd && member.currentPeriodEnd > deps.clock.now()
          ? member.currentPeriodEnd
          : undefined,
    },
  );
  res.redirect(303, session.url);
}

function giftButton(button: string, res: Response) {
  res.set({ 'Cross-Origin-Resource-Policy': 'cross-origin', 'Cache-Control': 'public, max-age=3600' });
  res
    .type('application/javascript')
    .send(buttonScript(button, 'embed.gift').replace("'/membership'", "'/gifts'"));
}

export function giftDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'get',
    path: '/gifts/options',
    tags: ['Gifts'],
    summary: 'Gift durations and prices (minor units)',
    responses: {
      200: { description: 'Options', content: { 'application/json': { schema: giftOptionsSchema } } },
    },
  });
  docs.registerPath({
    method: 'post',
    path: '/gifts/checkout',
    tags: ['Gifts'],
    summary: 'Buy a gift membership: creates the gift and a Stripe Checkout Session',
    description:
      'Retrying with the same `Idempotency-Key` returns the same gift and session; the same key with other fields is a 409.',
    request: {
      headers: z.object({ 'Idempotency-Key': idempotencyKeyHeader }),
      body: { content: { 'application/json': { schema: purchaseSchema } } },
    },
    responses: {
      201: {
        description: 'Redirect the purchaser to `url`',
        content: { 'application/json': { schema: z.object({ giftId: z.string(), url: z.url() }) } },
      },
      409: {
        description: 'The Idempotency-Key was used for another purchase, or its checkout ended unpaid',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      422: { description: 'Invalid fields', content: { 'application/json': { schema: errorBodySchema } } },
      503: {
        description: 'Payments are not configured',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
