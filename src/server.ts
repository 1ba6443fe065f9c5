import type { Server } from 'node:http';
import { createHttpServer } from './app.js';
import { startBackgroundWork } from './background.js';
import { openDatabase, readConfigOrExit, stoppingOnce } from './bootstrap.js';
import { startDevelopment } from './dev/dev-start.js';
import { startMetricsListener } from './http/health.routes.js';
import { type Lifecycle, shutDownGracefully } from './http/shutdown.js';
import { systemClock } from './infra/clock.js';
import { createLogger } from './infra/logger.js';
import { createMetricsRegistry } from './infra/metrics.js';
import { stripeFromConfig } from './infra/stripe.js';
import { prepareSupportersTotal } from './memberships/supporters.js';
import { DomainEvents } from './shared/domain-events.js';

// The web process: read configuration once, connect, serve, and shut down gracefully.

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logger = createLogger({ level: config.logLevel });
  const stopping = stoppingOnce(logger);
  const database = await openDatabase(config, logger);
  const { db } = database;
  const metrics = createMetricsRegistry();
  const stripe = stripeFromConfig(config.stripe);
  if (!stripe && config.stripe.localCheckout)
    logger.info('STRIPE_SECRET_KEY is not set: checkout goes to the local payment page (LOCAL_CHECKOUT)');
  else if (!stripe)
    logger.warn('STRIPE_SECRET_KEY is not set: payment routes answer 503 payments_not_configured');
  if (!config.email.sendgridApiKey)
    logger.warn(
      { dir: config.email.devMailDir },
      'SENDGRID_API_KEY is not set: emails are written to a folder',
    );

  const development =
    config.env === 'development'
      ? await startDevelopment(config, { db, clock: systemClock, logger })
      : undefined;

  // The supporters total beside every drive is counted before the first answer, not on it.
  await prepareSupportersTotal(db, systemClock.now());

  const events = new DomainEvents();
  const lifecycle: Lifecycle = { draining: false };
  const server: Server = createHttpServer({
    lifecycle,
    config,
    db,
    logger,
    clock: systemClock,
    metrics,
    stripe,
    events,
    runtime: { database: database.description },
  }).listen(config.http.port, config.http.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  logger.info({ url: `http://${config.http.host}:${config.http.port}` }, 'listening');
  // Operators scrape /metrics here, off the public port (docs/security.md).
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsListener(metrics, { port: config.metricsPort, host: config.metricsHost });
  if (metricsServer)
    logger.info({ metricsPort: config.metricsPort, host: config.metricsHost }, 'serving /metrics');
  development?.announce();

  const worker =
    config.email.worker === 'inline'
      ? startBackgroundWork({ config, db, clock: systemClock, logger, metrics, stripe, events })
      : undefined;
  if (!worker)
    logger.info(
      'EMAIL_WORKER=off: stored Stripe events and queued email wait for `npm run worker` processes; run at least one',
    );

  stopping.stopWith(async (reason) => {
    logger.info({ reason }, 'shutting down: finishing in-flight requests and the jobs in hand');
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    await shutDownGracefully({
      server,
      lifecycle,
      timeoutMs: config.http.shutdownTimeoutMs,
      logger,
      stopWork: worker ? () => worker.stop() : undefined,
      close: () => database.close(),
    });
    logger.info('stopped');
  });
}

main().catch((error) => {
  console.error('failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
