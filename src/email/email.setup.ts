import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import { fromRoot } from '../infra/paths.js';
import { createOutboxWorker, type OutboxWorker, type OutboxWorkerOptions } from './outbox.worker.js';
import { createEmailRenderer, type EmailRenderer } from './renderer.js';
import type { EmailSender } from './sender.js';
import { createDevFolderSender } from './senders/dev-folder.sender.js';
import { createSendgridSender } from './senders/sendgrid.sender.js';

export function createRendererFromConfig(config: Config): EmailRenderer {
  return createEmailRenderer({ templatesDir: fromRoot('templates/emails'), brand: config.brand });
}

/**
 * How long one send may take. It ends well inside the job's lease, or another worker could take the
 * job meanwhile; and inside a graceful stop, with time left to store its outcome, or the stop would
 * abandon a send SendGrid may have taken, and the job would be sent again when its lease ran out.
 */
export function sendTimeoutMs(config: Config): number {
  return Math.min(
    config.email.sendTimeoutMs,
    Math.max(1_000, Math.min(Math.floor(config.jobs.leaseMs / 3), config.http.shutdownTimeoutMs - 2_000)),
  );
}

/** SendGrid when a key is configured, otherwise the development mail folder. */
export function createSenderFromConfig(config: Config, deps: { clock: Clock; logger: Logger }): EmailSender {
  if (config.email.sendgridApiKey)
    return createSendgridSender({
      apiKey: config.email.sendgridApiKey,
      baseUrl: config.email.sendgridApiUrl,
      timeoutMs: sendTimeoutMs(config),
      clock: deps.clock,
    });
  return createDevFolderSender({ dir: fromRoot(config.email.devMailDir), logger: deps.logger });
}

export function createWorkerFromConfig(
  config: Config,
  deps: { db: Connection; clock: Clock; logger: Logger; metrics: Registry },
  overrides: Partial<OutboxWorkerOptions> = {},
): OutboxWorker {
  return createOutboxWorker({
    ...deps,
    sender: createSenderFromConfig(config, deps),
    renderer: createRendererFromConfig(config),
    from: config.email.from,
    replyTo: config.email.replyTo,
    maxAttempts: config.email.maxAttempts,
    leaseMs: config.jobs.leaseMs,
    retryBaseMs: config.jobs.retryBaseMs,
    crashAfterClaim: config.jobs.crashAfterClaim,
    ...overrides,
  });
}
