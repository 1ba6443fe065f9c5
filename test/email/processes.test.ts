import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { freePort } from '../../src/infra/embedded-db.js';
import { spawnScript } from '../support/server-process.js';
import { createTestDatabase, databaseUri, releaseTestDatabase } from '../support/test-app.js';

let db: Connection;
let env: Record<string, string>;
const mailDir = mkdtempSync(path.join(os.tmpdir(), 'dev-mail-'));
const clock = { now: () => new Date() };

beforeAll(async () => {
  db = await createTestDatabase();
  const uri = databaseUri(db.name);
  env = { MONGODB_URI: uri, DEV_MAIL_DIR: mailDir, LOG_LEVEL: 'info' };
});
afterAll(async () => {
  await releaseTestDatabase(db);
  rmSync(mailDir, { recursive: true, force: true });
});

const welcome = (key: string) =>
  enqueueEmail(db, clock, {
    template: 'member-welcome',
    to: { email: `${key}@example.com`, name: 'Olena' },
    data: { name: 'Olena', planName: 'Monthly', accountUrl: 'https://members.test/account' },
    idempotencyKey: key,
  });

async function waitForMail(jobId: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const file = readdirSync(mailDir).find((f) => f.includes(jobId) && f.endsWith('.html'));
    if (file) return readFileSync(path.join(mailDir, file), 'utf8');
    if (Date.now() > deadline) throw new Error(`no mail for ${jobId} in ${mailDir}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('email processes', () => {
  it('when the web process runs with the default EMAIL_WORKER=inline, then it sends queued mail itself', async () => {
    const server = spawnScript('src/server.ts', { ...env, PORT: String(await freePort()) });
    await server.waitForLog('"listening"');
    const { jobId } = await welcome('inline');
    expect(await waitForMail(jobId)).toContain('Welcome, Olena!');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect((await emailModels(db).EmailJob.findById(jobId).lean())!.status).toBe('sent');
  });

  it('when `npm run worker` runs on its own, then it sends queued mail and stops cleanly on SIGTERM', async () => {
    const worker = spawnScript('src/worker.ts', env);
    await worker.waitForLog('email worker started');
    const { jobId } = await welcome('separate');
    expect(await waitForMail(jobId)).toContain('Welcome, Olena!');
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('when staff list failed mail and re-queue it, then the CLI shows it (address masked) and it is due again', async () => {
    const { jobId } = await welcome('broken');
    await emailModels(db).EmailJob.updateOne(
      { _id: jobId },
      { $set: { status: 'failed', attempts: 8, lastError: 'SendGrid 400: bad address' } },
    );

    const list = spawnScript('src/cli/outbox.ts', env, ['failed']);
    expect(await list.exited).toBe(0);
    expect(list.output()).toContain(jobId);
    expect(list.output()).toContain('b***@example.com');
    expect(list.output()).toContain('SendGrid 400: bad address');
    expect(list.output()).not.toContain('broken@example.com');

    const requeue = spawnScript('src/cli/outbox.ts', env, ['requeue', jobId]);
    expect(await requeue.exited).toBe(0);
    expect(requeue.output()).toContain('Re-queued 1 email.');
    expect(await emailModels(db).EmailJob.findById(jobId).lean()).toMatchObject({
      status: 'pending',
      attempts: 0,
    });

    const misuse = spawnScript('src/cli/outbox.ts', env, ['requeue', 'not-an-id']);
    expect(await misuse.exited).toBe(2);
    expect(misuse.output()).toContain('requeue needs job ids');
  });
});
