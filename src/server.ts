import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { createApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config/config.js';
import { systemClock } from './infra/clock.js';
import { connectDatabase, describeServer, ensureIndexes } from './infra/db.js';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './infra/embedded-db.js';
import { createLogger, type Logger } from './infra/logger.js';
import { createMetricsRegistry } from './infra/metrics.js';
import { fromRoot } from './infra/paths.js';
import { createStripeClient } from './infra/stripe.js';
import { registerModels } from './models.js';

// The process entry: read configuration once, connect, serve, and shut down gracefully.

function readConfig(): Config {
  if (existsSync(fromRoot('.env'))) process.loadEnvFile(fromRoot('.env'));
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${error.message}\nSee .env.example for what each variable expects.`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

async function openDatabase(config: Config, logger: Logger) {
  let embedded: EmbeddedDatabase | undefined;
  let uri = config.mongo.uri;
  if (!uri) {
    embedded = await startEmbeddedDatabase({
      dataDir: fromRoot(config.mongo.embeddedDir),
      log: (message) => logger.info(message),
    });
    uri = embedded.uri;
  }
  const db = await connectDatabase({
    uri,
    poolSize: config.mongo.poolSize,
    timeoutMs: config.mongo.timeoutMs,
  });
  registerModels(db);
  await ensureIndexes(db);
  const server = await describeServer(db);
  if (embedded) {
    logger.info(
      { database: server, kind: embedded.kind, dataDir: embedded.dataDir },
      'using the embedded database',
    );
  } else {
    logger.info({ database: server }, 'connected to MONGODB_URI');
  }
  return { db, embedded };
}

async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel });
  const { db, embedded } = await openDatabase(config, logger);
  const stripe = createStripeClient(config.stripe.secretKey);
  if (!stripe) logger.warn('STRIPE_SECRET_KEY is not set: payment routes answer 503 payments_not_configured');

  const app = createApp({ config, db, logger, clock: systemClock, metrics: createMetricsRegistry(), stripe });
  const server: Server = app.listen(config.http.port, config.http.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  logger.info({ url: `http://${config.http.host}:${config.http.port}` }, 'listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const forced = setTimeout(() => {
      logger.warn('in-flight requests did not finish in time; closing their connections');
      server.closeAllConnections();
    }, config.http.shutdownTimeoutMs);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearTimeout(forced);
    await db.close();
    await embedded?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  console.error('failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
