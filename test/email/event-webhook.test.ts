import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { workerAgainstCapture } from '../support/email.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { sendgridSigningKeys } from '../support/sendgrid-signing.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

const keys = sendgridSigningKeys();
let app: TestApp;
let capture: SendgridCapture;

beforeAll(async () => {
  // Real time: SendGrid signs with the current time, and old signatures are refused.
  app = await startTestApp({
    config: testConfig({ SENDGRID_WEBHOOK_PUBLIC_KEY: keys.publicKeyBase64 }),
    deps: { clock: { now: () => new Date() } },
  });
  capture = await startSendgridCapture();
});
afterAll(async () => {
  await capture.close();
  await app.close();
});
afterEach(async () => {
  capture.reset();
  const { EmailJob, EmailEvent, Suppression } = emailModels(app.deps.db);
  await Promise.all([EmailJob.deleteMany({}), EmailEvent.deleteMany({}), Suppression.deleteMany({})]);
});

const models = () => emailModels(app.deps.db);
let seq = 0;
const event = (fields: Record<string, unknown>) => ({
  email: 'reader@example.com',
  timestamp: 1795000000,
  sg_event_id: `evt-${++seq}`,
  sg_message_id: 'msg-1.filter0001',
  ...fields,
});

function postEvents(body: string, headers: Record<string, string> = keys.signedHeaders(body)) {
  return fetch(`${app.url}/webhooks/sendgrid`, { method: 'POST', headers, body });
}

describe('SendGrid event webhook', () => {
  it('when a validly signed bounce arrives, then the address is suppressed', async () => {
    const body = JSON.stringify([
      event({ event: 'bounce', type: 'bounce', email: 'Gone@Example.com', reason: '550 no such user' }),
    ]);
    const res = await postEvents(body);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 1, processed: 1, duplicates: 0 });
    expect(await models().Suppression.findById('gone@example.com').lean()).toMatchObject({
      reason: 'bounce',
      detail: '550 no such user',
    });
  });

  it('when spam reports, unsubscribes and drops arrive, then each address is suppressed with its reason', async () => {
    const body = JSON.stringify([
      event({ event: 'spamreport', email: 'spam@example.com' }),
      event({ event: 'unsubscribe', email: 'unsub@example.com' }),
      event({ event: 'dropped', email: 'dropped@example.com', reason: 'Invalid' }),
      event({ event: 'bounce', type: 'blocked', email: 'soft@example.com' }),
    ]);
    expect((await postEvents(body)).status).toBe(200);
    const stored = await models().Suppression.find().sort({ _id: 1 }).lean();
    expect(stored.map((s) => [s._id, s.reason])).toEqual([
      ['dropped@example.com', 'dropped'],
      ['spam@example.com', 'spamreport'],
      ['unsub@example.com', 'unsubscribe'],
    ]);
  });

  it('when the body is tampered with after signing, then 401 and nothing is stored', async () => {
    const body = JSON.stringify([event({ event: 'spamreport' })]);
    const headers = keys.signedHeaders(body);
    const res = await postEvents(body.replace('reader@', 'victim@'), headers);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_signature');
    expect(await models().EmailEvent.countDocuments()).toBe(0);
    expect(await models().Suppression.countDocuments()).toBe(0);
  });

  it('when the signature is wrong, malformed, from another key or missing, then 401 and nothing is stored', async () => {
    const body = JSON.stringify([event({ event: 'unsubscribe' })]);
    const good = keys.signedHeaders(body);
    const otherKey = sendgridSigningKeys().signedHeaders(body);
    const cases = [
      { ...good, 'x-twilio-email-event-webhook-timestamp': '1700000000' }, // timestamp is signed too
      { ...good, 'x-twilio-email-event-webhook-signature': 'not-base64-der' },
      otherKey,
      { 'content-type': 'application/json' },
    ];
    for (const headers of cases) expect((await postEvents(body, headers)).status).toBe(401);
    expect(await models().EmailEvent.countDocuments()).toBe(0);
    expect(await models().Suppression.countDocuments()).toBe(0);
  });

  it('when a correctly signed batch is replayed long after signing (a 2001 timestamp), then 401 and nothing is stored', async () => {
    const body = JSON.stringify([event({ event: 'spamreport', email: 'victim@example.com' })]);
    const now = Math.floor(Date.now() / 1000);
    const at = (seconds: number) => keys.signedHeaders(body, String(seconds));
    for (const stale of [1_000_000_000 /* 2001-09-09 */, now - 6 * 60, now + 6 * 60]) {
      const res = await postEvents(body, at(stale));
      expect({ stale, status: res.status }).toEqual({ stale, status: 401 });
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_signature');
    }
    expect(await models().EmailEvent.countDocuments()).toBe(0);
    expect(await models().Suppression.countDocuments()).toBe(0);
    // Within the five-minute window the same batch is accepted.
    expect((await postEvents(body, at(now - 4 * 60))).status).toBe(200);
    expect(await models().Suppression.countDocuments()).toBe(1);
  });

  it('when the same sg_event_id arrives twice, then it is processed once', async () => {
    const delivered = event({ event: 'delivered' });
    const first = await postEvents(JSON.stringify([delivered, delivered]));
    expect(await first.json()).toEqual({ received: 2, processed: 1, duplicates: 1 });
    const again = await postEvents(JSON.stringify([delivered]));
    expect(await again.json()).toEqual({ received: 1, processed: 0, duplicates: 1 });
    expect(await models().EmailEvent.countDocuments()).toBe(1);
  });

  it('when delivered and open events name our job, then the job records them', async () => {
    const { jobId } = await enqueueEmail(app.deps.db, app.deps.clock, {
      template: 'member-welcome',
      to: { email: 'reader@example.com' },
      data: { planName: 'Monthly', accountUrl: 'https://members.test/account' },
      idempotencyKey: 'welcome:events',
    });
    await postEvents(
      JSON.stringify([
        event({ event: 'delivered', job_id: jobId, timestamp: 1795000000 }),
        event({ event: 'open', job_id: jobId, timestamp: 1795000600 }),
      ]),
    );
    expect(await models().EmailJob.findById(jobId).lean()).toMatchObject({
      deliveredAt: new Date(1795000000 * 1000),
      openedAt: new Date(1795000600 * 1000),
    });
  });

  it('when an address bounced, then it gets no later newsletter mail', async () => {
    await postEvents(
      JSON.stringify([event({ event: 'bounce', type: 'bounce', email: 'bounced@example.com' })]),
    );
    const { jobId } = await enqueueEmail(app.deps.db, app.deps.clock, {
      template: 'newsletter-confirmation',
      to: { email: 'bounced@example.com' },
      data: { lists: ["Editors' Picks"], confirmUrl: 'https://members.test/confirm?token=t' },
      idempotencyKey: 'confirm:bounced',
    });
    await workerAgainstCapture(app.deps.db, capture, app.deps.clock).drain();
    expect(capture.requests).toHaveLength(0);
    expect((await models().EmailJob.findById(jobId).lean())!.status).toBe('suppressed');
  });

  it('when the payload is signed but not a list of events, then 422 and nothing is stored', async () => {
    const res = await postEvents(JSON.stringify({ event: 'bounce' }));
    expect(res.status).toBe(422);
    expect(await models().EmailEvent.countDocuments()).toBe(0);
  });

  it('when an event is signed but its timestamp is no date (1e15, -1e15), then 422 and nothing is stored', async () => {
    for (const timestamp of [1e15, -1e15]) {
      const res = await postEvents(JSON.stringify([event({ event: 'bounce', timestamp })]));
      expect(res.status).toBe(422);
    }
    expect(await models().EmailEvent.countDocuments()).toBe(0);
  });
});

describe('SendGrid event webhook without a key', () => {
  it('when no public key is configured, then events are refused with 503', async () => {
    const bare = await startTestApp();
    const body = JSON.stringify([event({ event: 'bounce' })]);
    const res = await fetch(`${bare.url}/webhooks/sendgrid`, {
      method: 'POST',
      headers: keys.signedHeaders(body),
      body,
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('webhook_not_configured');
    await bare.close();
  });
});
