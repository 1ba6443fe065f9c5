import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import type { Config } from './config/config.js';
import { createWorkerFromConfig } from './email/email.setup.js';
import type { Clock } from './infra/clock.js';
import type { Logger } from './infra/logger.js';
import { createMarketingSyncWorker } from './newsletters/marketing-sync.js';

/** The background work a process runs: sending queued email, and syncing SendGrid Marketing lists. */
export function startBackgroundWork(
  config: Config,
  deps: { db: Connection; clock: Clock; logger: Logger; metrics: Registry },
) {
  const email = createWorkerFromConfig(config, deps);
  email.start();
  const sync = config.email.sendgridApiKey
    ? createMarketingSyncWorker({ ...deps, apiKey: config.email.sendgridApiKey })
    : undefined;
  sync?.start();
  return {
    async stop() {
      sync?.stop();
      await email.stop();
    },
  };
}
