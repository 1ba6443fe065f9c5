import { readFileSync } from 'node:fs';
import { type Request, type Response, Router } from 'express';
import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { z } from 'zod';
import type { CheckoutSettings } from '../config/config.js';
import { AppError, errorBodySchema } from '../http/errors.js';
import { errorsAsPage, wantsPage } from '../http/negotiate.js';
import type { ApiDocs } from '../http/openapi.js';
import { sendPage } from '../http/pages.js';
import { idempotencyKeyHeader, parseInput } from '../http/validate.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import { fromRoot } from '../infra/paths.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { LOCALES, type Locale, translate } from '../shared/messages.js';
import { type CheckoutSessions, checkoutRequestSchema, createCheckoutSession } from './checkout.service.js';
import { type CheckoutLimits, takeCheckoutSlots } from './checkout-limits.js';
import { membershipForm } from './membership-form.js';
import { type Plans, plansSchema } from './plans.js';

export interface MembershipRoutesDeps {
  /** The newsroom's sites whose members the button thanks (MEMBER_SITE_ORIGINS, src/accounts). */
  memberSiteOrigins?: string[];
  db: Connection;
  stripe: Stripe | null;
  /** Development without Stripe: checkout goes to the local payment page instead. */
  localCheckout?: CheckoutSessions;
  plans: Plans;
  publicBaseUrl: string;
  checkout?: CheckoutSettings;
  logger?: Logger;
  clock: Clock;
  checkoutLimits: CheckoutLimits;
  /** Tells the funnel a checkout started (src/attribution). */
  events?: DomainEvents;
}

const checkoutResponseSchema = z
  .object({ sessionId: z.string(), url: z.url() })
  .meta({ id: 'CheckoutSession' });

/**
 * The hosted form sends an input left blank (the "choose my own" amount under a fixed tier) as "";
 * for an optional field that means "not given", not an invalid value.
 */
const withoutBlankFields = (body: unknown) =>
  body && typeof body === 'object' && !Array.isArray(body)
    ? Object.fromEntries(Object.entries(body).filter(([, value]) => value !== ''))
    : body;

export function membershipRoutes(deps: MembershipRoutesDeps): Router {
  const router = Router();

  router.get('/memberships/plans', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(deps.plans);
  });

  const membershipPage = (req: Request, res: Response, error?: AppError) => {
    const form = membershipForm(deps.plans, req, res.locals.locale as Locale, error);
    sendPage(
      res,
      'membership',
      {
        title: 'membership.title',
        ...form,
        checkout: deps.checkout,
        // After a post, the language links lead to this form's page (its campaign and currency kept).
        formPage: `/membership?${new URLSearchParams({ currency: form.currency, ...(form.campaign ? { campaign: form.campaign } : {}) })}`,
      },
      error?.status ?? 200,
    );
  };

  /** JSON callers get the Checkout URL; the no-JavaScript form is redirected straight to it. */
  router.post(
    '/memberships/checkout',
    errorsAsPage((res, error, req) => membershipPage(req, res, error)),
    async (req, res) => {
      const sessions = deps.stripe ?? deps.localCheckout;
      if (!sessions) throw new AppError('payments_not_configured');
      const request = parseInput(checkoutRequestSchema, withoutBlankFields(req.body));
      const idempotencyKey = parseInput(idempotencyKeyHeader, req.get('idempotency-key'));
      await takeCheckoutSlots(deps.db, deps.clock.now(), deps.checkoutLimits, {
        ip: req.ip,
        email: request.email,
      });
      const session = await createCheckoutSession(
        {
          db: deps.db,
          stripe: sessions,
          plans: deps.plans,
          publicBaseUrl: deps.publicBaseUrl,
          settings: deps.checkout,
          logger: deps.logger,
        },
        request,
        idempotencyKey,
      );
      // The reader is on their way to pay: a funnel count that fails must not stop them.
      await deps.events
        ?.publish('checkout.started', {
          reference: session.reference,
          kind: request.kind,
          campaign: request.campaign,
          placement: session.attribution?.placement,
          at: deps.clock.now(),
        })
        .catch((error: unknown) =>
          deps.logger?.warn({ err: error }, 'funnel: a checkout start was not counted'),
        );
      if (wantsPage(req)) return res.redirect(303, session.url);
      res.status(201).json({ sessionId: session.sessionId, url: session.url });
    },
  );

  router.get('/membership', (req, res) => membershipPage(req, res));

  // Members on the newsroom's own sites are thanked (src/accounts/README.md), in the catalogue's words.
  const button = readFileSync(fromRoot('templates/embed/membership-button.js'), 'utf8')
    .replace('/*@MEMBER_ORIGINS@*/ []', JSON.stringify(deps.memberSiteOrigins ?? []))
    .replace(
      '/*@THANKS@*/ {}',
      JSON.stringify(Object.fromEntries(LOCALES.map((l) => [l, translate(l, 'embed.thanksMember')]))),
    );
  router.get('/embed/membership-button.js', (_req, res) => {
    // Loaded by the news site from its own origin.
    res.set({ 'Cross-Origin-Resource-Policy': 'cross-origin', 'Cache-Control': 'public, max-age=3600' });
    res.type('application/javascript').send(button);
  });

  router.get('/membership/thanks', (_req, res) => {
    sendPage(res, 'membership-thanks', { title: 'membership.thanks.title' });
  });

  return router;
}

export function membershipDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'get',
    path: '/memberships/plans',
    tags: ['Memberships'],
    summary: 'Membership tiers, prices (minor units) and amount limits for the site',
    responses: {
      200: { description: 'The configured plans', content: { 'application/json': { schema: plansSchema } } },
    },
  });
  docs.registerPath({
    method: 'post',
    path: '/memberships/checkout',
    tags: ['Memberships'],
    summary: 'Start a Stripe Checkout for a membership or a one-time contribution',
    request: {
      headers: z.object({ 'Idempotency-Key': idempotencyKeyHeader }),
      body: {
        content: {
          'application/json': { schema: checkoutRequestSchema },
          'application/x-www-form-urlencoded': { schema: checkoutRequestSchema },
        },
      },
    },
    responses: {
      201: {
        description: 'Redirect the reader to `url`',
        content: { 'application/json': { schema: checkoutResponseSchema } },
      },
      303: { description: 'Form posts are redirected to Stripe Checkout' },
      422: {
        description:
          'Invalid plan, amount or email (`validation_failed`), or attribution (`attribution_invalid`: page, placement, referrer, UTM tags or newsletter)',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      503: {
        description: 'Payments are not configured',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
