import { startBackgroundWork } from './background.js';
import { openDatabase, readConfigOrExit, stoppingOnce } from './bootstrap.js';
import { registerOutboxMetrics } from './email/outbox.metrics.js';
import { startMetricsListener } from './http/health.routes.js';
import { systemClock } from './infra/clock.js';
import { createLogger } from './infra/logger.js';
import { createMetricsRegistry } from './infra/metrics.js';
import { stripeFromConfig } from './infra/stripe.js';
import { DomainEvents } from './shared/domain-events.js';

// A process that only does background work (queued email, SendGrid Marketing sync, gift delivery,
// sweeps): run as many as you like (`npm run worker`) and set EMAIL_WORKER=off on the web processes
// to keep sending off them. With METRICS_PORT set it serves /metrics there, on METRICS_HOST.

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logger = createLogger({ level: config.logLevel });
  const stopping = stoppingOnce(logger);
  const database = await openDatabase(config, logger);
  const metrics = createMetricsRegistry();
  registerOutboxMetrics(metrics, database.db);
  const worker = startBackgroundWork({
    config,
    db: database.db,
    clock: systemClock,
    logger,
    metrics,
    stripe: stripeFromConfig(config.stripe),
    events: new DomainEvents(),
  });
  const metricsServer =
    config.metricsPort === undefined
      ? undefined
      : await startMetricsListener(metrics, { port: config.metricsPort, host: config.metricsHost });
  logger.info({ metricsPort: config.metricsPort }, 'email worker started');

  stopping.stopWith(async (reason) => {
    logger.info({ reason }, 'email worker stopping: finishing the jobs in hand');
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    // The job in hand gets what is left of SHUTDOWN_TIMEOUT_MS; an unfinished one stays leased
    // and another worker takes it over when the lease runs out.
    const deadline = Math.max(0, config.http.shutdownTimeoutMs - 500);
    await Promise.race([worker.stop(), new Promise((resolve) => setTimeout(resolve, deadline).unref())]);
    await Promise.race([database.close(), new Promise((resolve) => setTimeout(resolve, 400).unref())]);
    logger.info('email worker stopped');
  });
}

main().catch((error) => {
  console.error('email worker failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
