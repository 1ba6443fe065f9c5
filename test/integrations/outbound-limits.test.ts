import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createWebhookQueue, type WebhookQueue } from '../../src/integrations/delivery.worker.js';
import { webhookQueueFrom } from '../../src/integrations/integrations.capability.js';
import { outboundAgents, postBounded } from '../../src/integrations/outbound-post.js';
import { webhookModels } from '../../src/integrations/webhook.model.js';
import { staffToken } from '../support/staff.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';
import { type AdminAnswer, FLOOD_BYTES, PRODUCTION, type Receiver, startReceiver } from './support.js';

// What one attempt may cost us, whatever the receiver does: a receiver that takes the delivery and
// never answers holds it for the deadline only (then the attempt is a failure, retried later), and
// one that answers with 50 MB gets at most 4 KB of it read. README.md beside the code, "Delivery".

/** The deadline these tests give each attempt: production's is 10 s (the last test shows it). */
const DEADLINE_MS = 300;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let admin: { authorization: string };
let receiver: Receiver;
let queue: WebhookQueue;
let seq = 0;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
  admin = await staffToken(app.url, app.deps.db, 'admin');
  receiver = await startReceiver();
  queue = createWebhookQueue({
    db: app.deps.db,
    clock,
    logger: app.deps.logger,
    allowPrivateTargets: true, // the receiver is on 127.0.0.1
    leaseMs: 60_000,
    timeoutMs: DEADLINE_MS,
  });
});
afterAll(async () => {
  await receiver.close();
  await app.close();
});

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { ...admin, accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as AdminAnswer };
}

/** An endpoint for member.joined, and one member joining: one delivery to make. */
async function oneDelivery() {
  const res = await api('POST', '/admin/webhooks/endpoints', {
    url: receiver.url,
    events: ['member.joined'],
  });
  expect(res.status).toBe(201);
  receiver.secrets = [res.body.secret!];
  seq++;
  await app.deps.events.publish('member.joined', {
    memberId: `64b00000000000000000cc${String(seq).padStart(2, '0')}`,
    email: `limits${seq}@example.org`,
    joinedAt: clock.now(),
    source: 'checkout',
    paid: true,
  });
  return res.body.endpoint!.id;
}

async function logOf(endpointId: string) {
  const log = await api('GET', `/admin/webhooks/endpoints/${endpointId}/deliveries`);
  expect(log.status).toBe(200);
  expect(log.body.deliveries).toHaveLength(1);
  return log.body.deliveries![0]!;
}

describe('a receiver that never answers', () => {
  it('when the receiver takes the delivery and holds the connection without a word, then the attempt ends at the deadline, is logged as failed with why, and the delivery is retried later', async () => {
    const endpointId = await oneDelivery();
    receiver.mode = 'hang';
    const arrived = receiver.received.length;
    const started = performance.now();
    await queue.drain();
    const waited = performance.now() - started;

    expect(receiver.received.length).toBe(arrived + 1); // it has the delivery: only the answer is missing
    expect(waited).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    expect(waited).toBeLessThan(DEADLINE_MS + 3_000); // the database's work too, on a busy machine
    const failed = await logOf(endpointId);
    expect(failed.status).toBe('pending');
    expect(failed.attempts).toEqual([
      expect.objectContaining({ ok: false, status: null, error: `no answer within ${DEADLINE_MS} ms` }),
    ]);
    expect(failed.attempts[0]!.durationMs).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    expect(failed.attempts[0]!.durationMs).toBeLessThan(DEADLINE_MS + 1_000);
    // Retried later (the first wait is a minute, with jitter), not at once and not given up.
    const retryIn = Date.parse(failed.nextAttemptAt!) - clock.now().getTime();
    expect(retryIn).toBeGreaterThanOrEqual(30_000);
    expect(retryIn).toBeLessThanOrEqual(60_000);

    receiver.mode = 'ok';
    clock.set(new Date(failed.nextAttemptAt!));
    await queue.drain();
    const delivered = await logOf(endpointId);
    expect(delivered.status).toBe('delivered');
    expect(delivered.attempts.map((a) => a.error ?? `ok ${a.status}`)).toEqual([
      `no answer within ${DEADLINE_MS} ms`,
      'ok 204',
    ]);
    await api('PATCH', `/admin/webhooks/endpoints/${endpointId}`, { enabled: false });
  });
});

describe('a receiver that answers with 50 MB', () => {
  it('when the receiver answers 200 with a 50 MB body, then at most 4 KB of it is read, the sender hangs up on the rest, and the attempt is logged as delivered with its status', async () => {
    const endpointId = await oneDelivery();
    receiver.mode = 'flood';
    receiver.floods.length = 0;
    const started = performance.now();
    await queue.drain();
    expect(performance.now() - started).toBeLessThan(3_000);

    const delivery = await logOf(endpointId);
    expect(delivery.status).toBe('delivered');
    expect(delivery.attempts).toEqual([expect.objectContaining({ ok: true, status: 200, error: null })]);
    // The log keeps the start of the answer (500 characters), not the body.
    const { Attempt } = webhookModels(app.deps.db);
    const [attempt] = await Attempt.find({ endpointId }).lean();
    expect(attempt!.response).toBe('x'.repeat(500));

    // The sender hung up after its 4 KB: the receiver could hand over only what the connection's
    // buffers hold, never the 50 MB, so the sending process cannot have taken the body in.
    const [flood] = receiver.floods;
    expect(flood!.complete).toBe(false);
    expect(flood!.sent).toBeLessThan(FLOOD_BYTES / 5);
    await api('PATCH', `/admin/webhooks/endpoints/${endpointId}`, { enabled: false });
  });

  it('when one post meets a 50 MB answer, then what it reads is exactly the first 4 KB', async () => {
    receiver.mode = 'flood';
    receiver.floods.length = 0;
    const options = { allowPrivate: true, timeoutMs: 2_000, maxResponseBytes: 4_096 };
    const before = process.memoryUsage().arrayBuffers;
    const answer = await postBounded(outboundAgents(options), options, receiver.url, {}, '{}');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('x'.repeat(4_096));
    expect(receiver.floods[0]!.complete).toBe(false);
    // Buffers held by the process grew by far less than the body (a read of it all holds 50 MB).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(FLOOD_BYTES / 5);
  });
});

describe('the deadline in production', () => {
  it('when the queue is made as production makes it, then each attempt has 10 s', () => {
    const production = webhookQueueFrom({ ...app.deps, config: loadConfig(PRODUCTION) });
    expect(production.attemptTimeoutMs).toBe(10_000);
    expect(queue.attemptTimeoutMs).toBe(DEADLINE_MS); // what these tests inject instead
  });
});
