import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import type { JobQueue } from '../../src/infra/jobs/queue.js';
import { createWebhookQueue } from '../../src/integrations/delivery.worker.js';
import { isPrivateAddress, type Lookup } from '../../src/integrations/safe-target.js';
import { webhookModels } from '../../src/integrations/webhook.model.js';
import { staffToken } from '../support/staff.js';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { type AdminAnswer, PRODUCTION, type Receiver, startReceiver } from './support.js';

// In production a webhook reaches only public addresses: checked when an admin saves the URL, and
// again on the address each connection is about to use, so a name that resolves somewhere else
// later (DNS rebinding) is refused too. Redirects are never followed.

/** A resolver that answers what the test says for its names (the newsroom's DNS, compromised). */
const answers = new Map<string, string[]>();
const fakeDns: Lookup = (hostname, options, callback) => {
  const addresses = answers.get(hostname);
  if (!addresses)
    return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
  const all: LookupAddress[] = addresses.map((address) => ({
    address,
    family: address.includes(':') ? 6 : 4,
  }));
  if (options.all) callback(null, all);
  else callback(null, all[0]!.address, all[0]!.family);
};

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let receiver: Receiver;
let admin: { authorization: string };
let production: JobQueue;
let development: JobQueue;

beforeAll(async () => {
  app = await startTestApp({ config: testConfig(PRODUCTION), deps: { clock } });
  expect(app.deps.config.webhooks.allowPrivateTargets).toBe(false);
  admin = await staffToken(app.url, app.deps.db, 'admin');
  receiver = await startReceiver();
  const queue = (allowPrivateTargets: boolean) =>
    createWebhookQueue({
      db: app.deps.db,
      clock,
      logger: app.deps.logger,
      allowPrivateTargets,
      leaseMs: 60_000,
      timeoutMs: 2_000,
      lookup: fakeDns,
    });
  production = queue(false);
  development = queue(true);
});
afterAll(async () => {
  await receiver.close();
  await app.close();
});

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { ...admin, accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as AdminAnswer };
};

const joined = (n: number) => ({
  memberId: `64b00000000000000000bb${String(n).padStart(2, '0')}`,
  email: `reader${n}@example.org`,
  joinedAt: clock.now(),
  source: 'checkout' as const,
  paid: true,
});

async function attemptsOf(endpointId: string) {
  const log = await api('GET', `/admin/webhooks/endpoints/${endpointId}/deliveries`);
  return log.body.deliveries!.flatMap((d) => d.attempts.map((a) => ({ status: a.status, error: a.error })));
}

describe('production configuration', () => {
  it('when an admin saves an endpoint on a loopback, private or link-local address, then it is refused with webhook_target_unsafe and nothing is stored', async () => {
    const port = receiver.port;
    const urls = [
      `http://127.0.0.1:${port}/hook`,
      'http://10.0.0.5/hook',
      'https://192.168.1.20/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/hook',
      'http://[fd12:3456::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://localhost/hook',
    ];
    const outcomes = [];
    for (const url of urls) {
      const res = await api('POST', '/admin/webhooks/endpoints', { url, events: ['member.joined'] });
      outcomes.push(`${url} ${res.status} ${res.body.error?.code}`);
    }
    expect(outcomes).toEqual(urls.map((url) => `${url} 422 webhook_target_unsafe`));
    expect(await webhookModels(app.deps.db).Endpoint.countDocuments()).toBe(0);
  });

  it('when a public-looking name resolves to 127.0.0.1 or 10.x at delivery time, then nothing is sent there and the log says it was refused', async () => {
    // Saved while the name did not resolve (or resolved to a public address): the save is allowed.
    const target = `http://hooks.partner.example:${receiver.port}/hook`;
    const created = await api('POST', '/admin/webhooks/endpoints', {
      url: target,
      events: ['member.joined'],
    });
    expect(created.status).toBe(201);
    const crm = await api('POST', '/admin/webhooks/endpoints', {
      url: 'http://crm.partner.example/hook',
      events: ['member.joined'],
    });
    expect(crm.status).toBe(201);
    receiver.secrets = [created.body.secret!];

    // Now the names point inside: one at loopback, one at a private range next to a public address.
    answers.set('hooks.partner.example', ['127.0.0.1']);
    answers.set('crm.partner.example', ['93.184.215.14', '10.20.30.40']);
    await app.deps.events.publish('member.joined', joined(1));
    await production.drain();
    expect(receiver.received).toHaveLength(0);
    expect(await attemptsOf(created.body.endpoint!.id)).toEqual([
      { status: null, error: expect.stringMatching(/^refused: hooks\.partner\.example \(127\.0\.0\.1\)/) },
    ]);
    expect(await attemptsOf(crm.body.endpoint!.id)).toEqual([
      { status: null, error: expect.stringMatching(/^refused: crm\.partner\.example \(10\.20\.30\.40\)/) },
    ]);
    // A refused address is not retried: it is a setting to change, not a blip.
    const deliveries = await webhookModels(app.deps.db).Delivery.find().lean();
    expect(deliveries.map((d) => d.status)).toEqual(['failed', 'failed']);

    // The same delivery, sent again where private targets are allowed, does reach the receiver
    // through that name: the refusal above was the address check, not a broken test resolver.
    const mine = deliveries.find((d) => d.endpointId === created.body.endpoint!.id)!;
    expect((await api('POST', `/admin/webhooks/deliveries/${mine._id}/redeliver`, {})).status).toBe(202);
    await development.drain();
    expect(receiver.received.map((r) => [r.webhookId, r.verifiedWith.length])).toEqual([[mine.webhookId, 1]]);
    const removed = await fetch(`${app.url}/admin/webhooks/endpoints/${crm.body.endpoint!.id}`, {
      method: 'DELETE',
      headers: admin,
    });
    expect(removed.status).toBe(204);
  });

  it('when an endpoint saved with a literal address is delivered in production, then it is refused before connecting', async () => {
    // Saved under a development configuration, then the service runs with the production one.
    const { Endpoint } = webhookModels(app.deps.db);
    await Endpoint.create({
      _id: 'ep_00000000000000000000abcd',
      url: `http://127.0.0.1:${receiver.port}/hook`,
      events: ['member.canceled'],
      secrets: [{ secret: receiver.secrets[0]!, createdAt: clock.now() }],
      rotations: 0,
      enabled: true,
    });
    const before = receiver.received.length;
    await app.deps.events.publish('member.canceled', { memberId: joined(1).memberId, endedAt: clock.now() });
    await production.drain();
    expect(receiver.received).toHaveLength(before);
    expect(await attemptsOf('ep_00000000000000000000abcd')).toEqual([
      { status: null, error: 'refused: 127.0.0.1 is not a public address' },
    ]);
  });

  it('when the receiver answers with a redirect, then it is not followed and the delivery is a failed attempt', async () => {
    answers.set('hooks.partner.example', ['127.0.0.1']);
    receiver.mode = 'redirect';
    const endpoints = await webhookModels(app.deps.db)
      .Endpoint.find({ url: /hooks\.partner/ })
      .lean();
    const before = (await attemptsOf(endpoints[0]!._id)).length;
    await app.deps.events.publish('member.joined', joined(2));
    await development.drain();
    receiver.mode = 'ok';
    expect(receiver.strayHits).toEqual([]);
    const attempts = await attemptsOf(endpoints[0]!._id);
    expect(attempts.length).toBe(before + 1);
    expect(attempts).toContainEqual({ status: 302, error: 'the receiver answered 302' });
  });

  it('when production is configured to allow private targets, then it refuses to start', () => {
    expect(() => loadConfig({ ...PRODUCTION, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' })).toThrow(ConfigError);
    expect(loadConfig(PRODUCTION).webhooks.allowPrivateTargets).toBe(false);
    expect(testConfig().webhooks.allowPrivateTargets).toBe(true);
  });
});

describe('which addresses are private', () => {
  it('when addresses are classified, then loopback, private, link-local, unique-local and their IPv6 forms are private and public ones are not', () => {
    const privateOnes = [
      '127.0.0.1',
      '127.8.9.10',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'fc00::2',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '64:ff9b::10.0.0.1',
      'not-an-address',
    ];
    const publicOnes = ['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];
    expect(privateOnes.filter((a) => !isPrivateAddress(a))).toEqual([]);
    expect(publicOnes.filter(isPrivateAddress)).toEqual([]);
  });
});
