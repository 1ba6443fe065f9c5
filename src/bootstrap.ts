import { existsSync } from 'node:fs';
import type { Connection } from 'mongoose';
import { useLeafSigner } from './campaigns/drive-log/promises.js';
import { createSigner } from './campaigns/drive-log/signing.js';
import { type Config, ConfigError, loadConfig } from './config/config.js';
import { connectDatabase, describeServer, ensureIndexes } from './infra/db.js';
import { startEmbeddedDatabase } from './infra/embedded-db.js';
import type { Logger } from './infra/logger.js';
import { fromRoot } from './infra/paths.js';
import { migrate } from './migrations.js';
import { registerModels } from './models.js';

// What every process (web server, worker, CLI) does first: read the configuration once, and
// open the database with every model and index in place.

export function readConfigOrExit(): Config {
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

/**
 * How a process stops: once, on SIGTERM, SIGINT or a crash, whichever comes first, by running the
 * `stop` given to `stopWith` (finish what is in flight), then exiting 0. A crash is an exception or
 * rejection nothing caught: it is logged as one JSON line with its stack (Node would print it raw to
 * stderr, outside the log pipeline) and makes the exit code 1, so a supervisor restarts the process.
 * A crash before `stopWith`, or a second one, exits at once.
 */
export function stoppingOnce(logger: Logger): { stopWith(stop: (reason: string) => Promise<void>): void } {
  let exitCode = 0;
  let crashed = false;
  let stop: ((reason: string) => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  const stopOnce = (reason: string) =>
    (stopping ??= (async () => {
      try {
        await stop?.(reason);
      } catch (error) {
        logger.error({ err: error }, 'stopping failed');
        exitCode = 1;
      }
      process.exit(exitCode);
    })());
  const crash = (kind: string) => (error: unknown) => {
    logger.fatal({ err: error }, `${kind}: stopping`);
    if (crashed) process.exit(1);
    crashed = true;
    exitCode = 1;
    void stopOnce(kind);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled rejection'));
  return {
    stopWith(given) {
      stop = given;
      process.on('SIGTERM', () => void stopOnce('SIGTERM'));
      process.on('SIGINT', () => void stopOnce('SIGINT'));
    },
  };
}

/**
 * A process may start before its database (a host reboot, a compose file without health checks): it
 * waits up to a minute, saying so on every try, instead of exiting at the first refusal.
 */
const DATABASE_START_WAIT_MS = 60_000;

async function connectWhenReachable(
  options: Parameters<typeof connectDatabase>[0],
  logger: Logger,
): Promise<Connection> {
  const giveUpAt = Date.now() + DATABASE_START_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectDatabase(options);
    } catch (error) {
      if (Date.now() >= giveUpAt) throw error;
      const retryInMs = Math.min(5_000, 500 * attempt);
      logger.warn(
        { attempt, retryInMs, error: (error as Error).message },
        'database not reachable yet; trying again',
      );
      await new Promise((resolve) => setTimeout(resolve, retryInMs));
    }
  }
}

export async function openDatabase(
  config: Config,
  logger: Logger,
): Promise<{ db: Connection; close(): Promise<void>; description: string }> {
  const embedded = config.mongo.uri
    ? undefined
    : await startEmbeddedDatabase({
        dataDir: fromRoot(config.mongo.embeddedDir),
        log: (message) => logger.info(message),
      });
  const uri = config.mongo.uri ?? embedded!.uri;
  const db = await connectWhenReachable(
    {
      uri,
      poolSize: config.mongo.poolSize,
      timeoutMs: config.mongo.timeoutMs,
      monitorGraceMs: config.mongo.monitorGraceMs,
      logger,
    },
    logger,
  );
  registerModels(db);
  // Leaves appended here (migrations, commands) carry their signed promise too.
  useLeafSigner(db, {
    signer: createSigner(config.transparency.keys),
    publicBaseUrl: config.http.publicBaseUrl,
  });
  await ensureIndexes(db);
  await migrate(db, logger);
  const server = await describeServer(db);
  if (embedded) {
    logger.info(
      { database: server, kind: embedded.kind, dataDir: embedded.dataDir },
      'using the embedded database',
    );
  } else {
    logger.info({ database: server }, 'connected to MONGODB_URI');
  }
  return {
    db,
    // For the development home page: which server, and where its data lives.
    description: embedded
      ? `${server}, embedded (${embedded.kind}), data in ${embedded.dataDir}`
      : `${server} at MONGODB_URI`,
    close: async () => {
      await db.close();
      await embedded?.stop();
    },
  };
}
