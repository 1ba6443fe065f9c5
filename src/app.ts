import http from 'node:http';
import express, { type Express } from 'express';
import type { HandlerTable } from '../webhooks/stripe-events.service.js';
import { createProgressCache, type ProgressCache } from './campaigns/progress.service.js';
import { progressFastPath } from './campaigns/progress-fast-path.js';
import { type AppContext, CAPABILITIES, wireCapabilities } from './capabilities.js';
import { devHomeRoutes } from './dev/home.routes.js';
import { createLocalCheckout } from './dev/local-checkout.js';
import { localCheckoutRoutes } from './dev/local-checkout.routes.js';
import { emailPreviewRoutes } from './email/email.routes.js';
import { createRendererFromConfig } from './email/email.setup.js';
import { registerOutboxMetrics } from './email/outbox.metrics.js';
import { answerClientErrors } from './http/client-errors.js';
import { errorHandler, notFoundHandler } from './http/errors.js';
import { healthDocs, healthRoutes } from './http/health.routes.js';
import { createHttpMetrics } from './http/http-metrics.js';
import { buildOpenApiDocument, docsRoutes } from './http/openapi.js';
import { pageContext } from './http/pages.js';
import { requestLogging, requireParsableBody } from './http/request-context.js';
import { headersSetBy, securityHeaders } from './http/security-headers.js';
import { closeConnectionsWhileDraining, type Lifecycle } from './http/shutdown.js';
import type { ProcessContext } from './infra/capability.js';

export interface AppDeps extends ProcessContext {
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
  // Development without a Stripe key: checkout goes to a local payment page (src/dev/).
  const localCheckout = config.stripe.localCheckout
    ? createLocalCheckout({ db: deps.db, clock: deps.clock, publicBaseUrl: config.http.publicBaseUrl })
    : undefined;
  const ctx: AppContext = { ...deps, progressCache, localCheckout };
  wireCapabilities(ctx);
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
      metricsToken: config.metricsToken,
    }),
  );

  // Signed webhooks verify the exact bytes received: mounted before any body parser.
  for (const capability of CAPABILITIES) if (capability.rawRoutes) app.use(capability.rawRoutes(ctx));

  app.use(requireParsableBody);
  app.use(express.json({ limit: config.http.bodyLimit }));
  app.use(express.urlencoded({ extended: false, limit: config.http.bodyLimit }));
  // Every page's language (query, form, Accept-Language) and the brand it is shown under.
  app.use(pageContext(config.brand));

  for (const capability of CAPABILITIES) {
    const routes = capability.routes?.(ctx);
    if (routes) app.use(routes);
  }
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
  const apiDocs = [healthDocs, ...CAPABILITIES.flatMap((capability) => capability.docs ?? [])];
  app.use(docsRoutes(buildOpenApiDocument(apiDocs, config.http.publicBaseUrl)));

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
