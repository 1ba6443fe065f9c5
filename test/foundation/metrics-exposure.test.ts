import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsListener } from '../../src/http/health.routes.js';
import { freePort } from '../../src/infra/embedded-db.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import { PRODUCTION_ENV } from '../support/production-env.js';
import { spawnServer } from '../support/server-process.js';
import { databaseUri, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// /metrics counts mail by status: a member's sign-in link moves it, a stranger's does not. Read
// from the public port, that undid the same-answer, same-time sign-in (docs/security.md). The
// public port now answers /metrics only to the operator's bearer token, and without one
// configured not at all; METRICS_PORT serves it on a listener of its own.

const PRODUCTION = {
  ...PRODUCTION_ENV,
  STRIPE_SECRET_KEY: 'sk_live_membershipdrive',
  STRIPE_WEBHOOK_SECRET: 'whsec_test_membershipdrive',
  SENDGRID_API_KEY: 'SG.unused',
};
const TOKEN = 'metrics-token-for-the-operator-0123456789';

const signIn = (app: TestApp, email: string) =>
  fetch(`${app.url}/account/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });

async function withMember(app: TestApp): Promise<void> {
  await createMemberOnce(app.deps.db, {
    email: 'member@example.com',
    locale: 'en',
    status: 'active',
    source: 'checkout',
    joinedAt: new Date('2026-10-01T00:00:00Z'),
    joinedVia: 'sub_member',
  });
}

describe('a production server without METRICS_TOKEN', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ config: testConfig(PRODUCTION) });
    await withMember(app);
  });
  afterAll(() => app.close());

  it('when a stranger reads /metrics before and after sign-in requests for a member and a stranger, then every read is the same 404 and says nothing', async () => {
    const read = async () => {
      const res = await fetch(`${app.url}/metrics`);
      const body = (await res.text()).replace(/"requestId":"[^"]+"/, '');
      return { status: res.status, body };
    };
    const before = await read();
    expect((await signIn(app, 'member@example.com')).status).toBe(202);
    const afterMember = await read();
    expect((await signIn(app, 'stranger@example.com')).status).toBe(202);
    const afterStranger = await read();

    expect(before.status).toBe(404);
    expect(afterMember).toEqual(before);
    expect(afterStranger).toEqual(before);
    expect(before.body).not.toContain('email_outbox_jobs');
    // The member's link was queued all the same: the counter exists, out of public reach.
    expect(await app.deps.metrics.getSingleMetricAsString('email_outbox_jobs')).toContain(
      'email_outbox_jobs{status="pending"} 1',
    );
  });
});

describe('a server with METRICS_TOKEN', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ config: testConfig({ ...PRODUCTION, METRICS_TOKEN: TOKEN }) });
    await withMember(app);
  });
  afterAll(() => app.close());

  it('when /metrics is read without the token or with a wrong one, then 401 and no counters, before and after a member signs in', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      for (const email of [undefined, 'member@example.com', 'stranger@example.com']) {
        if (email) await signIn(app, email);
        const res = await fetch(`${app.url}/metrics`, {
          headers: authorization ? { authorization } : {},
        });
        expect(res.status).toBe(401);
        expect(await res.text()).not.toContain('email_outbox_jobs');
      }
    }
  });

  it('when the operator reads /metrics with the token, then Prometheus text', async () => {
    const res = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('email_outbox_jobs{status="pending"}');
  });
});

describe('METRICS_PORT', () => {
  it('when set, then /metrics is served on its own listener, on the loopback address unless METRICS_HOST says otherwise', async () => {
    const app = await startTestApp({ config: testConfig(PRODUCTION) });
    const listener = await startMetricsListener(app.deps.metrics, { port: 0, host: '127.0.0.1' });
    try {
      const { address, port } = listener.address() as AddressInfo;
      expect(address).toBe('127.0.0.1');
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('process_cpu_user_seconds_total');
      expect((await fetch(`http://127.0.0.1:${port}/account`)).status).toBe(404);
      expect(testConfig(PRODUCTION).metricsHost).toBe('127.0.0.1');
      expect((await fetch(`${app.url}/metrics`)).status).toBe(404);
    } finally {
      listener.close();
      await app.close();
    }
  });
});

describe('the web process with METRICS_PORT', () => {
  it('when it runs, then /metrics answers on the metrics port and not on the public one', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const server = spawnServer({
      MONGODB_URI: databaseUri('metrics_port'),
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      EMAIL_WORKER: 'off',
      LOG_LEVEL: 'info',
    });
    try {
      await server.waitForLog('serving /metrics');
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('email_outbox_jobs');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
