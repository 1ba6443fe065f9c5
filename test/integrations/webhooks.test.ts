import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import type { JobQueue } from '../../src/infra/jobs/queue.js';
import { createWebhookQueue } from '../../src/integrations/delivery.worker.js';
import { webhookModels } from '../../src/integrations/webhook.model.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../src/integrations/webhook-events.js';
import { payloadSchema } from '../../src/integrations/webhooks.docs.js';
import { findMemberByEmail } from '../../src/memberships/member-keys.js';
import { staffToken } from '../support/staff.js';
import { checkoutSession, invoice, postEvent, purchase, stripeEvent, T0 } from '../support/stripe-events.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';
import { type AdminAnswer, type Receiver, startReceiver } from './support.js';

// Outgoing webhooks end to end: the real app and database, endpoints made through the staff API,
// domain events published on the app's event bus as the capabilities publish them, deliveries
// run by the webhooks queue of the one job runner, and a receiver that verifies each one with the
// standardwebhooks library.

const HOUR = 3_600_000;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let admin: { authorization: string };
let adminSince = 0;
let receiver: Receiver;
let queue: JobQueue;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
  admin = await staffToken(app.url, app.deps.db, 'admin');
  adminSince = clock.now().getTime();
  receiver = await startReceiver();
  queue = createWebhookQueue({
    db: app.deps.db,
    clock,
    logger: app.deps.logger,
    allowPrivateTargets: true, // the test configuration's default: the receiver is on 127.0.0.1
    leaseMs: 60_000,
    timeoutMs: 2_000,
  });
});
afterAll(async () => {
  await receiver.close();
  await app.close();
});

async function api(method: string, path: string, body?: unknown) {
  // Access tokens last minutes and the clock moves on by days: sign in again when it has.
  if (clock.now().getTime() - adminSince > 5 * 60_000) {
    admin = await staffToken(app.url, app.deps.db, 'admin');
    adminSince = clock.now().getTime();
  }
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { ...admin, accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? {} : ((await res.json()) as AdminAnswer) };
}

async function addEndpoint(events: WebhookEventType[], url = receiver.url) {
  const res = await api('POST', '/admin/webhooks/endpoints', { url, events });
  expect(res.status).toBe(201);
  return res.body as { endpoint: { id: string }; secret: string };
}

/** Runs the queue until nothing is pending, moving the clock on by `step` hours (at most `hours`). */
async function deliverAll(hours = 24, step = 0.25) {
  const { Delivery } = webhookModels(app.deps.db);
  for (let waited = 0; ; waited += step) {
    await queue.drain();
    if ((await Delivery.countDocuments({ status: { $in: ['pending', 'sending'] } })) === 0) return;
    if (waited >= hours) throw new Error(`deliveries still pending after ${hours} hours`);
    clock.advance(step * HOUR);
  }
}

let memberSeq = 0;
const joined = () => {
  memberSeq++;
  return {
    memberId: `64b0000000000000000000${String(memberSeq).padStart(2, '0')}`,
    email: `reader${memberSeq}@example.org`,
    joinedAt: clock.now(),
    source: 'checkout' as const,
    campaign: 'birthday',
    paid: true,
  };
};

describe('delivery', () => {
  it('when the receiver is killed mid-run and brought back, then every event arrives verified at least once, duplicates share their webhook-id, and the log shows each attempt', async () => {
    const { endpoint, secret } = await addEndpoint(['member.joined', 'member.canceled', 'gift.purchased']);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    receiver.secrets = [secret];
    receiver.received.length = 0;
    const events = app.deps.events;

    // Running: two events arrive.
    const first = [joined(), joined()];
    for (const e of first) await events.publish('member.joined', e);
    await deliverAll();
    expect(receiver.received).toHaveLength(2);

    // The receiver dies after reading each delivery, before answering: it has them, we cannot know.
    receiver.mode = 'drop';
    const dropped = joined();
    await events.publish('member.joined', dropped);
    await events.publish('gift.purchased', {
      giftId: '64b00000000000000000aa01',
      durationMonths: 12,
      amount: 5000,
      currency: 'eur',
      paidAt: clock.now(),
      campaign: 'birthday',
    });
    await queue.drain();
    expect(receiver.received).toHaveLength(4);

    // Down: nothing listens on its port.
    await receiver.kill();
    const whileDown = joined();
    await events.publish('member.joined', whileDown);
    await events.publish('member.canceled', { memberId: first[0]!.memberId, endedAt: clock.now() });
    await queue.drain();
    // The same facts published again (a retried Stripe event) are the same messages, not new ones.
    await events.publish('member.joined', whileDown);
    await events.publish('member.joined', first[1]!);

    receiver.mode = 'ok';
    await receiver.revive();
    await deliverAll();

    const { Delivery } = webhookModels(app.deps.db);
    const deliveries = await Delivery.find({ endpointId: endpoint.id }).lean();
    expect(deliveries).toHaveLength(6);
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);

    // Every message arrived, every arrival verified, each with the body the schema documents.
    const ids = new Set(deliveries.map((d) => d.webhookId));
    expect(new Set(receiver.received.map((r) => r.webhookId))).toEqual(ids);
    for (const r of receiver.received) {
      expect(r.verifiedWith).toEqual([secret]);
      const body = JSON.parse(r.body);
      expect(payloadSchema(body.type).safeParse(body).success).toBe(true);
      expect(r.body).not.toContain('@example.org'); // no address leaves in a payload
    }
    // The two dropped ones arrived twice: same webhook-id, same body, each time.
    const byId = new Map<string, typeof receiver.received>();
    for (const r of receiver.received) byId.set(r.webhookId, [...(byId.get(r.webhookId) ?? []), r]);
    const twice = [...byId.values()].filter((arrivals) => arrivals.length > 1);
    expect(twice).toHaveLength(2);
    for (const arrivals of twice) expect(new Set(arrivals.map((a) => a.body)).size).toBe(1);
    expect(receiver.received).toHaveLength(8);

    // The log, through the staff API: one line per attempt, with status and response time.
    const log = await api('GET', `/admin/webhooks/endpoints/${endpoint.id}/deliveries`);
    expect(log.status).toBe(200);
    const outcomes = log.body
      .deliveries!.map((d) => ({
        type: d.eventType,
        status: d.status,
        attempts: d.attempts.map((a) => (a.ok ? `ok ${a.status}` : a.status ? `${a.status}` : 'no answer')),
      }))
      .sort((a, b) => a.attempts.length - b.attempts.length || a.type.localeCompare(b.type));
    expect(outcomes).toEqual([
      { type: 'member.joined', status: 'delivered', attempts: ['ok 204'] },
      { type: 'member.joined', status: 'delivered', attempts: ['ok 204'] },
      { type: 'gift.purchased', status: 'delivered', attempts: ['no answer', 'ok 204'] },
      { type: 'member.canceled', status: 'delivered', attempts: ['no answer', 'ok 204'] },
      { type: 'member.joined', status: 'delivered', attempts: ['no answer', 'ok 204'] },
      { type: 'member.joined', status: 'delivered', attempts: ['no answer', 'ok 204'] },
    ]);
    for (const d of log.body.deliveries!)
      for (const a of d.attempts) expect(a.durationMs).toEqual(expect.any(Number));

    // A manual redelivery sends the same message again, with its webhook-id.
    const target = deliveries.find((d) => d.eventType === 'member.canceled')!;
    const again = await api('POST', `/admin/webhooks/deliveries/${target._id}/redeliver`);
    expect(again.status).toBe(202);
    await deliverAll();
    expect(receiver.received.at(-1)?.webhookId).toBe(target.webhookId);
    expect(receiver.received.at(-1)?.body).toBe(target.body);
    await api('PATCH', `/admin/webhooks/endpoints/${endpoint.id}`, { enabled: false });
  });

  it('when a secret is rotated, then during the overlap deliveries verify with the old and the new secret, and after it with the new one only', async () => {
    const { endpoint, secret: old } = await addEndpoint(['member.joined']);
    const rotated = await api('POST', `/admin/webhooks/endpoints/${endpoint.id}/rotate-secret`, {
      overlapHours: 24,
    });
    expect(rotated.status).toBe(200);
    const next = rotated.body.secret as string;
    expect(next).not.toBe(old);
    expect(rotated.body.endpoint!.secrets).toHaveLength(2);
    expect(JSON.stringify(rotated.body.endpoint)).not.toContain('whsec_');
    const listed = await api('GET', '/admin/webhooks/endpoints');
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');

    receiver.secrets = [old, next];
    receiver.received.length = 0;
    await app.deps.events.publish('member.joined', joined());
    await deliverAll();
    expect(receiver.received.map((r) => r.verifiedWith)).toEqual([[old, next]]);
    expect(receiver.received[0]!.signature.split(' ')).toHaveLength(2);

    clock.advance(25 * HOUR);
    await app.deps.events.publish('member.joined', joined());
    await deliverAll();
    expect(receiver.received.map((r) => r.verifiedWith)).toEqual([[old, next], [next]]);
    await api('PATCH', `/admin/webhooks/endpoints/${endpoint.id}`, { enabled: false });
  });

  it('when an endpoint fails for days, then its deliveries are retried for about three days, it is disabled, and the admins are emailed', async () => {
    const { endpoint, secret } = await addEndpoint(['member.joined']);
    receiver.secrets = [secret];
    receiver.mode = 'fail';
    receiver.received.length = 0;
    await app.deps.events.publish('member.joined', joined());
    await deliverAll(24 * 5, 0.5);
    const { Delivery, Endpoint, Attempt } = webhookModels(app.deps.db);
    const [first] = await Delivery.find({ endpointId: endpoint.id }).lean();
    expect(first!.status).toBe('failed');
    expect(first!.attempts).toBe(17);
    expect(receiver.received).toHaveLength(17);
    const times = (await Attempt.find({ deliveryId: String(first!._id) }).lean()).map((a) => a.at.getTime());
    const span = (Math.max(...times) - Math.min(...times)) / HOUR;
    expect(span).toBeGreaterThan(40);
    expect(span).toBeLessThan(100);
    expect((await Endpoint.findById(endpoint.id).lean())!.enabled).toBe(true);

    // Days later it still fails: the next delivery's failure disables it.
    clock.advance(3 * 24 * HOUR);
    await app.deps.events.publish('member.joined', joined());
    await queue.drain();
    const disabled = (await Endpoint.findById(endpoint.id).lean())!;
    expect(disabled.enabled).toBe(false);
    expect(disabled.disabledReason).toContain('503');
    const emails = await emailModels(app.deps.db)
      .EmailJob.find({ template: 'webhook-endpoint-disabled' })
      .lean();
    expect(emails.map((e) => e.to.email)).toEqual(['admin@newsroom.example']);
    // Disabled, it receives nothing more; enabled again by an admin, it does.
    await app.deps.events.publish('member.joined', joined());
    receiver.mode = 'ok';
    const before = receiver.received.length;
    await deliverAll();
    expect(receiver.received.length).toBe(before);
    const enabled = await api('PATCH', `/admin/webhooks/endpoints/${endpoint.id}`, { enabled: true });
    expect(enabled.body.endpoint).toMatchObject({ enabled: true, disabledReason: null });
    await app.deps.events.publish('member.joined', joined());
    await deliverAll();
    expect(receiver.received.length).toBe(before + 1);
    await api('PATCH', `/admin/webhooks/endpoints/${endpoint.id}`, { enabled: false });
  });
});

describe('from Stripe to the receiver', () => {
  it('when a reader pays at checkout and a renewal later fails, then the endpoint hears member.joined once (Stripe sent it twice) and member.payment_failed, with ids and no address', async () => {
    const { endpoint, secret } = await addEndpoint(['member.joined', 'member.payment_failed']);
    receiver.secrets = [secret];
    receiver.received.length = 0;
    const p = purchase();
    const paid = stripeEvent('checkout.session.completed', checkoutSession(p));
    expect((await postEvent(app.url, paid)).status).toBe(200);
    expect((await postEvent(app.url, paid)).status).toBe(200); // Stripe delivers at least once too
    const failed = stripeEvent('invoice.payment_failed', invoice(p, { paid: false }), T0 + 30 * 86400);
    expect((await postEvent(app.url, failed)).status).toBe(200);
    await deliverAll();

    const member = (await findMemberByEmail(app.deps.db, p.email))!;
    // Delivered side by side, so in either order.
    const bodies = receiver.received
      .map((r) => {
        expect(r.verifiedWith).toEqual([secret]);
        return JSON.parse(r.body);
      })
      .sort((a, b) => a.type.localeCompare(b.type));
    expect(bodies).toEqual([
      {
        type: 'member.joined',
        version: 1,
        timestamp: new Date(T0 * 1000).toISOString(),
        data: {
          memberId: String(member._id),
          joinedAt: new Date(T0 * 1000).toISOString(),
          source: 'checkout',
          campaign: null,
          paid: true,
        },
      },
      {
        type: 'member.payment_failed',
        version: 1,
        timestamp: expect.any(String),
        data: {
          memberId: String(member._id),
          invoiceId: expect.stringMatching(/^in_/),
          amount: 500,
          currency: 'eur',
        },
      },
    ]);
    expect(receiver.received.map((r) => r.body).join()).not.toContain(p.email);
    await api('PATCH', `/admin/webhooks/endpoints/${endpoint.id}`, { enabled: false });
  });
});

describe('documentation', () => {
  it('when the OpenAPI document is read, then its webhooks section describes every event type with its payload', async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as {
      webhooks?: Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }>;
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.webhooks ?? {}).sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
    const joinedBody = JSON.stringify(doc.webhooks!['member.joined']!.post.requestBody);
    expect(joinedBody).toContain('Webhook_member_joined');
    expect(Object.keys(doc.paths)).toContain('/admin/webhooks/endpoints/{id}/rotate-secret');
  });
});
