import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { createLogger } from '../../src/infra/logger.js';
import { DEFAULT_LISTS } from '../../src/newsletters/lists.js';
import { createMarketingSyncWorker } from '../../src/newsletters/marketing-sync.js';
import { marketingSyncModel } from '../../src/newsletters/marketing-sync.model.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { sendgridSigningKeys } from '../support/sendgrid-signing.js';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
const keys = sendgridSigningKeys();
let app: TestApp;
let capture: SendgridCapture;

beforeAll(async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'lists-')), 'lists.json');
  writeFileSync(
    file,
    JSON.stringify(
      DEFAULT_LISTS.map((l) => (l.slug === 'editors-picks' ? { ...l, sendgridListId: 'list-ep' } : l)),
    ),
  );
  app = await startTestApp({
    deps: { clock },
    config: testConfig({ NEWSLETTER_LISTS_FILE: file, SENDGRID_WEBHOOK_PUBLIC_KEY: keys.publicKeyBase64 }),
  });
  capture = await startSendgridCapture();
});
afterAll(async () => {
  await capture.close();
  await app.close();
});

const worker = () =>
  createMarketingSyncWorker({
    db: app.deps.db,
    clock,
    logger: createLogger({ level: 'silent' }),
    apiKey: 'SG.sync-key',
    baseUrl: capture.baseUrl,
    retryBaseMs: 60_000,
  });

async function confirmedReader(email: string) {
  await fetch(`${app.url}/newsletters/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.5.0.${email.length}` },
    body: JSON.stringify({ email, lists: ['editors-picks', 'explaining-ukraine'], name: 'Olena' }),
  });
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ 'to.email': email, template: 'newsletter-confirmation' })
    .lean();
  const token = new URL(String(job!.data.confirmUrl)).searchParams.get('token')!;
  const res = await fetch(`${app.url}/newsletters/confirm`, {
    method: 'POST',
    body: new URLSearchParams({ token }),
  });
  expect(res.status).toBe(200);
}

describe('SendGrid Marketing sync', () => {
  it('when a reader confirms, then they are added to the synced list once, after SendGrid recovers', async () => {
    await confirmedReader('sync@example.com');
    // Only the list with a SendGrid id is synced.
    expect(await marketingSyncModel(app.deps.db).countDocuments({ email: 'sync@example.com' })).toBe(1);

    capture.respondNext({ status: 503 });
    const sync = worker();
    await sync.drain();
    expect(await marketingSyncModel(app.deps.db).findOne({ email: 'sync@example.com' }).lean()).toMatchObject(
      {
        status: 'pending',
        attempts: 1,
        lastError: 'SendGrid 503',
      },
    );
    expect(await sync.drain()).toBe(0); // not due yet
    clock.advance(60_000);
    await sync.drain();

    const puts = capture.requests.filter((r) => r.path === '/v3/marketing/contacts');
    expect(puts.map((r) => r.status)).toEqual([503, 202]);
    expect(puts[1]!.body).toEqual({
      list_ids: ['list-ep'],
      contacts: [{ email: 'sync@example.com', first_name: 'Olena' }],
    });
    expect(puts[1]!.headers.authorization).toBe('Bearer SG.sync-key');
    expect(await marketingSyncModel(app.deps.db).findOne({ email: 'sync@example.com' }).lean()).toMatchObject(
      { status: 'done', attempts: 2 },
    );
  });

  it('when the reader unsubscribes, then they are removed from the SendGrid list', async () => {
    await confirmedReader('leaver@example.com');
    await worker().drain();
    capture.reset();
    const welcome = await emailModels(app.deps.db)
      .EmailJob.findOne({ 'to.email': 'leaver@example.com', template: 'newsletter-welcome' })
      .lean();
    const url = new URL(welcome!.listUnsubscribeUrl!);
    await fetch(`${app.url}${url.pathname}${url.search}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    capture.respondTo('/v3/marketing/contacts/search/emails', {
      status: 200,
      body: { result: { 'leaver@example.com': { contact: { id: 'contact-42' } } } },
    });
    await worker().drain();
    expect(capture.requests.map((r) => [r.path, r.status])).toEqual([
      ['/v3/marketing/contacts/search/emails', 200],
      ['/v3/marketing/lists/list-ep/contacts?contact_ids=contact-42', 202],
    ]);
    expect(capture.requests[0]!.body).toEqual({ emails: ['leaver@example.com'] });
  });

  it('when SendGrid reports a bounce for a subscriber, then they are removed from the list too', async () => {
    await confirmedReader('bouncy@example.com');
    await worker().drain();
    const body = JSON.stringify([
      {
        email: 'bouncy@example.com',
        event: 'bounce',
        type: 'bounce',
        sg_event_id: 'evt-bouncy',
        timestamp: 1795000000,
      },
    ]);
    expect(
      (
        await fetch(`${app.url}/webhooks/sendgrid`, {
          method: 'POST',
          // Signed at the app's time: older batches are refused (five-minute window).
          headers: keys.signedHeaders(body, String(Math.floor(clock.now().getTime() / 1000))),
          body,
        })
      ).status,
    ).toBe(200);
    expect(
      await marketingSyncModel(app.deps.db).findOne({ email: 'bouncy@example.com', action: 'remove' }).lean(),
    ).toMatchObject({
      listId: 'list-ep',
      status: 'pending',
    });
  });
});
