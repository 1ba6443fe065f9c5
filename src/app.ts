import http from 'node:http';
import express, { type Express } from 'express';
import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import type Stripe from 'stripe';
import { sendgridWebhookDocs, sendgridWebhookRoutes } from '../webhooks/sendgrid.routes.js';
import { stripeWebhookDocs, stripeWebhookRoutes } from '../webhooks/stripe.routes.js';
import type { HandlerTable } from '../webhooks/stripe-events.service.js';
import { accountDocs, accountRoutes } from './accounts/account.routes.js';
import { campaignConsoleRoutes } from './campaigns/campaign-console.routes.js';
import { campaignDocs, campaignRoutes } from './campaigns/campaigns.routes.js';
import { createProgressCache, type ProgressCache } from './campaigns/progress.service.js';
import { progressFastPath } from './campaigns/progress-fast-path.js';
import { newsletterDepsFrom, webhookDepsFrom, wireCapabilities } from './capabilities.js';
import type { Config } from './config/config.js';
import { devHomeRoutes } from './dev/home.routes.js';
import { createLocalCheckout } from './dev/local-checkout.js';
import { localCheckoutRoutes } from './dev/local-checkout.routes.js';
import { emailPreviewRoutes } from './email/email.routes.js';
import { createRendererFromConfig } from './email/email.setup.js';
import { registerOutboxMetrics } from './email/outbox.metrics.js';
import { giftDepsFrom } from './gifts/gift-deps.js';
import { giftDocs, giftRoutes } from './gifts/gifts.routes.js';
import { answerClientErrors } from './http/client-errors.js';
import { errorHandler, notFoundHandler } from './http/errors.js';
import { healthDocs, healthRoutes } from './http/health.routes.js';
import { createHttpMetrics } from './http/http-metrics.js';
import { buildOpenApiDocument, docsRoutes } from './http/openapi.js';
import { pageContext } from './http/pages.js';
import { requestLogging, requireParsableBody } from './http/request-context.js';
import { headersSetBy, securityHeaders } from './http/security-headers.js';
import { closeConnectionsWhileDraining, type Lifecycle } from './http/shutdown.js';
import type { Clock } from './infra/clock.js';
import type { Logger } from './infra/logger.js';
import { memberConsoleRoutes } from './memberships/member-console.routes.js';
import { membershipDocs, membershipRoutes } from './memberships/memberships.routes.js';
import { loadPlans } from './memberships/plans.js';
import { newsletterDocs, newsletterRoutes } from './newsletters/newsletters.routes.js';
import { dashboardRoutes } from './reports/dashboard.routes.js';
import { driveOverviewRoutes } from './reports/drive-overview.routes.js';
import { reportDocs } from './reports/reports.docs.js';
import { reportRoutes } from './reports/reports.routes.js';
import type { DomainEvents } from './shared/domain-events.js';
import { sponsorshipDocs, sponsorshipRoutes } from './sponsorship/sponsorship.routes.js';
import { sponsorshipDepsFrom } from './sponsorship/sponsorship-deps.js';
import { consoleSignInRoutes } from './staff/console.routes.js';
import { consoleSession } from './staff/console-session.js';
import { staffDocs, staffRoutes } from './staff/staff.routes.js';
import { createSigner } from './transparency/signing.js';
import { transparencyDocs, transparencyRoutes } from './transparency/transparency.routes.js';

export interface AppDeps {
  config: Config;
  db: Connection;
  logger: Logger;
  clock: Clock;
  metrics: Registry;
  /** Null when payments are not configured. */
  stripe: Stripe | null;
  /** Where capabilities tell each other what happened (memberships → campaigns). */
  events: DomainEvents;
  /** Replaces the Stripe event handler table (tests use it to make a handler fail). */
  stripeEventHandlers?: HandlerTable;
  /** Set by the process on SIGTERM: /readyz answers 503 and responses close their connection. */
  lifecycle?: Lifecycle;
  /** What the process runs on, for the development home page. */
  runtime?: { database: string };
}

/** The HTTP server: the cached progress fast path first, then the Express app. */
export function createHttpServer(deps: AppDeps): http.Server {
  const progressCache = newProgressCache(deps);
  const app = createApp(deps, progressCache);
  const observe = createHttpMetrics(deps.metrics);
  const lifecycle = deps.lifecycle ?? { draining: false };
  // The fast path keeps its own metric and draining header: it runs first, on every article view.
  const serveCachedProgress = progressFastPath({
    cache: progressCache,
    securityHeaders: headersSetBy(securityHeaders(deps.config)),
    lifecycle,
    metrics: deps.metrics,
  });
  const server = http.createServer((req, res) => {
    if (serveCachedProgress(req, res)) return;
    closeConnectionsWhileDraining(lifecycle, res);
    observe(req, res);
    app(req, res);
  });
  answerClientErrors(server);
  return server;
}

const newProgressCache = (deps: AppDeps) =>
  createProgressCache({ db: deps.db, ttlMs: deps.config.progressCacheMs, now: () => deps.clock.now() });

export function createApp(deps: AppDeps, progressCache: ProgressCache = newProgressCache(deps)): Express {
  const { config } = deps;
  const plans = loadPlans(config.membershipPlansFile);
  const staffAuth = {
    keys: config.staffAuth.keys,
    issuer: config.http.publicBaseUrl,
    accessTokenMinutes: config.staffAuth.accessTokenMinutes,
    refreshTokenDays: config.staffAuth.refreshTokenDays,
  };
  wireCapabilities(config, deps);
  const newsletterDeps = newsletterDepsFrom(config, deps);
  // Development without a Stripe key: checkout goes to a local payment page (src/dev/).
  const localCheckout = config.stripe.localCheckout
    ? createLocalCheckout({ db: deps.db, clock: deps.clock, publicBaseUrl: config.http.publicBaseUrl })
    : undefined;
  const giftDeps = { ...giftDepsFrom(config, deps), localCheckout };
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', parseTrustProxy(config.http.trustProxy));
  app.set('query parser', 'simple');

  registerOutboxMetrics(deps.metrics, deps.db);

  app.use(requestLogging(deps.logger));
  app.use(securityHeaders(config));
  app.use(
    healthRoutes({
      db: deps.db,
      metrics: deps.metrics,
      dbTimeoutMs: config.mongo.timeoutMs,
      lifecycle: deps.lifecycle,
    }),
  );

  // Webhook routes verify signatures over the exact bytes received, so they are mounted here,
  // before any body parser, and read the raw body themselves.
  app.use(
    sendgridWebhookRoutes({
      db: deps.db,
      clock: deps.clock,
      events: deps.events,
      publicKey: config.email.sendgridWebhookPublicKey,
    }),
  );
  app.use(
    stripeWebhookRoutes({
      ...webhookDepsFrom(config, deps),
      localCheckout: Boolean(localCheckout),
      webhookSecret: config.stripe.webhookSecret,
      toleranceSeconds: config.stripe.webhookToleranceSeconds,
      handlers: deps.stripeEventHandlers,
    }),
  );

  app.use(requireParsableBody);
  app.use(express.json({ limit: config.http.bodyLimit }));
  app.use(express.urlencoded({ extended: false, limit: config.http.bodyLimit }));
  // Every page's language (query, form, Accept-Language) and the brand it is shown under.
  app.use(pageContext(config.brand));

  app.use(
    membershipRoutes({
      db: deps.db,
      stripe: deps.stripe,
      localCheckout,
      plans,
      publicBaseUrl: config.http.publicBaseUrl,
      checkout: config.stripe.checkout,
      logger: deps.logger,
    }),
  );
  app.use(
    accountRoutes({
      db: deps.db,
      clock: deps.clock,
      stripe: deps.stripe,
      publicBaseUrl: config.http.publicBaseUrl,
      session: {
        secret: config.session.secret,
        issuer: config.http.publicBaseUrl,
        days: config.session.days,
      },
      secureCookies: config.env === 'production',
      signInAnswerMs: config.fixedTime.signInMs,
    }),
  );
  app.use(
    newsletterRoutes({
      ...newsletterDeps,
      subscribeLimitPerIp: config.newsletters.signupsPerIp,
      signUpAnswerMs: config.fixedTime.newsletterSignUpMs,
      staffAuth,
    }),
  );
  app.use(giftRoutes({ ...giftDeps, plans, redeemLimitPerIp: 30 }));
  app.use(dashboardRoutes());
  app.use(reportRoutes({ ...deps, staffAuth, timeZone: config.timeZone }));
  app.use(staffRoutes({ db: deps.db, clock: deps.clock, auth: staffAuth }));
  app.use(campaignRoutes({ db: deps.db, clock: deps.clock, staffAuth, progressCache }));
  app.use(
    sponsorshipRoutes({
      ...sponsorshipDepsFrom(config, deps),
      stripe: deps.stripe,
      staffAuth,
      brandName: config.brand.name,
      requestsPerIp: 10,
      requestAnswerMs: config.fixedTime.sponsorshipRequestMs,
    }),
  );
  app.use(
    transparencyRoutes({
      db: deps.db,
      signer: createSigner(config.transparency.keys),
      brandName: config.brand.name,
    }),
  );
  // The staff console: server-rendered pages over the same staff tokens, carried in cookies.
  const consoleDeps = {
    db: deps.db,
    clock: deps.clock,
    auth: staffAuth,
    secureCookies: config.env === 'production',
  };
  app.use('/console', consoleSession(consoleDeps));
  app.use(consoleSignInRoutes(consoleDeps));
  app.use(driveOverviewRoutes({ db: deps.db, clock: deps.clock }));
  app.use(campaignConsoleRoutes({ db: deps.db, clock: deps.clock, progressCache }));
  app.use(
    memberConsoleRoutes({
      db: deps.db,
      clock: deps.clock,
      stripeDashboard: `https://dashboard.stripe.com${config.stripe.secretKey?.startsWith('sk_live') || config.stripe.secretKey?.startsWith('rk_live') ? '' : '/test'}`,
    }),
  );
  if (config.email.previewRoutes) app.use(emailPreviewRoutes(createRendererFromConfig(config)));
  if (config.env === 'development') {
    app.use(devHomeRoutes({ config, db: deps.db, database: deps.runtime?.database ?? 'MongoDB' }));
  }
  if (localCheckout && config.stripe.webhookSecret) {
    app.use(
      localCheckoutRoutes({
        db: deps.db,
        clock: deps.clock,
        brandName: config.brand.name,
        webhookSecret: config.stripe.webhookSecret,
      }),
    );
  }
  app.use(
    docsRoutes(
      buildOpenApiDocument(
        [
          healthDocs,
          campaignDocs,
          transparencyDocs,
          sponsorshipDocs,
          giftDocs,
          newsletterDocs,
          membershipDocs,
          accountDocs,
          reportDocs,
          staffDocs,
          stripeWebhookDocs,
          sendgridWebhookDocs,
        ],
        config.http.publicBaseUrl,
      ),
    ),
  );

  // Browsers ask every page's origin for one; an error in their console helps no one.
  app.get('/favicon.ico', (_req, res) => {
    res.status(204).end();
  });

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
