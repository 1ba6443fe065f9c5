import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { createRendererFromConfig } from '../../src/email/email.setup.js';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { createOutboxWorker } from '../../src/email/outbox.worker.js';
import type { EmailSender } from '../../src/email/sender.js';
import { connectDatabase, ensureIndexes } from '../../src/infra/db.js';
import { createLogger } from '../../src/infra/logger.js';
import { createMetricsRegistry } from '../../src/infra/metrics.js';
import { registerModels } from '../../src/models.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { testConfig } from '../support/test-app.js';

let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let db: Awaited<ReturnType<typeof connectDatabase>>;
const clock = { now: () => new Date() };

beforeAll(async () => {
  const server = new URL(inject('mongoUri'));
  proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port) });
  db = await connectDatabase({
    uri: `mongodb://127.0.0.1:${proxy.port}/outbox_blip_${Date.now()}?directConnection=true`,
    poolSize: 4,
    timeoutMs: 500,
  });
  registerModels(db);
  await ensureIndexes(db);
});
afterAll(async () => {
  proxy.restore();
  await db.dropDatabase().catch(() => {});
  await db.close();
  await proxy.close();
});

it('when the database goes away right after SendGrid accepted a message, then the outcome is stored once it is back and the message is not sent again', async () => {
  const { jobId } = await enqueueEmail(db, clock, {
    template: 'member-welcome',
    to: { email: 'blip@example.com' },
    data: { planName: 'Monthly', accountUrl: 'https://members.test/account' },
    idempotencyKey: 'blip',
  });
  const sends: string[] = [];
  const sender: EmailSender = {
    name: 'blip',
    async send(email) {
      sends.push(email.jobId);
      proxy.cut(); // the provider took it; now the database is gone for 2 s
      setTimeout(() => proxy.restore(), 2_000);
      return { providerMessageId: 'msg-blip' };
    },
  };
  const config = testConfig();
  const worker = createOutboxWorker({
    db,
    sender,
    renderer: createRendererFromConfig(config),
    clock,
    logger: createLogger({ level: 'silent' }),
    metrics: createMetricsRegistry(),
    from: config.email.from,
    leaseMs: 15_000,
  });

  expect(await worker.runOnce()).toBe(true);
  expect(await emailModels(db).EmailJob.findById(jobId).lean()).toMatchObject({
    status: 'sent',
    providerMessageId: 'msg-blip',
    attempts: 1,
  });
  expect(await worker.drain()).toBe(0);
  expect(sends).toEqual([jobId]);
}, 60_000);
