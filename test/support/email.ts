import type { Connection } from 'mongoose';
import { createWorkerFromConfig } from '../../src/email/email.setup.js';
import type { OutboxWorkerOptions } from '../../src/email/outbox.worker.js';
import { createSendgridSender } from '../../src/email/senders/sendgrid.sender.js';
import type { Clock } from '../../src/infra/clock.js';
import { createLogger } from '../../src/infra/logger.js';
import { createMetricsRegistry } from '../../src/infra/metrics.js';
import type { SendgridCapture } from './sendgrid-capture.js';
import { testConfig } from './test-app.js';

/** The production worker, sending through the real SendGrid client to the capture server. */
export function workerAgainstCapture(
  db: Connection,
  capture: SendgridCapture,
  clock: Clock,
  overrides: Partial<OutboxWorkerOptions> = {},
) {
  const config = testConfig({ BRAND_NAME: 'Kyiv Weekly', BRAND_PRIMARY_COLOR: '#0057b7' });
  return createWorkerFromConfig(
    config,
    { db, clock, logger: createLogger({ level: 'silent' }), metrics: createMetricsRegistry() },
    {
      sender: createSendgridSender({
        apiKey: 'SG.test-key',
        baseUrl: capture.baseUrl,
        clock,
        timeoutMs: 5_000,
      }),
      ...overrides,
    },
  );
}
