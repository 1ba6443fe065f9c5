import { startBackgroundWork } from './background.js';
import { openDatabase, readConfigOrExit } from './bootstrap.js';
import { systemClock } from './infra/clock.js';
import { createLogger } from './infra/logger.js';
import { createMetricsRegistry } from './infra/metrics.js';
import { stripeFromConfig } from './infra/stripe.js';
import { DomainEvents } from './shared/domain-events.js';

// A process that only does background work (queued email, SendGrid Marketing sync): run as many as you like (`npm run worker`) and set
// EMAIL_WORKER=off on the web processes to keep sending off them.

async function main(): Promise<void> {
  const config = readConfigOrExit();
  const logger = createLogger({ level: config.logLevel });
  const database = await openDatabase(config, logger);
  const worker = startBackgroundWork(config, {
    db: database.db,
    clock: systemClock,
    logger,
    metrics: createMetricsRegistry(),
    stripe: stripeFromConfig(config.stripe),
    events: new DomainEvents(),
  });
  logger.info('email worker started');

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'email worker stopping: finishing the jobs in hand');
    await worker.stop();
    await database.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  console.error('email worker failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
