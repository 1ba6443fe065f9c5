import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE, startMemberSession } from '../../src/accounts/member-session.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { startTestApp, TEST_ENV, type TestApp } from '../support/test-app.js';

// Stripe cannot be reached (connections hang: the harder case than refused) while readers pay.

const STRIPE_TIMEOUT_MS = 1_000;
// One retry of a timed-out request, plus the client's backoff between them.
const BUDGET_MS = 2 * STRIPE_TIMEOUT_MS + 1_500;
let app: TestApp;
let blackhole: net.Server;
const held: net.Socket[] = [];

beforeAll(async () => {
  blackhole = net.createServer((socket) => held.push(socket)); // accepts, never answers
  await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  const { port } = blackhole.address() as net.AddressInfo;
  app = await startTestApp({
    deps: {
      stripe: createStripeClient(
        TEST_ENV.STRIPE_SECRET_KEY,
        { host: '127.0.0.1', port, protocol: 'http' },
        STRIPE_TIMEOUT_MS,
      ),
    },
  });
});
afterAll(async () => {
  for (const s of held) s.destroy();
  await app.close();
  await new Promise((resolve) => blackhole.close(resolve));
});

async function timedPost(path: string, body: unknown, headers: Record<string, string> = {}) {
  const started = Date.now();
  const res = await fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
  return { res, json: await res.json(), ms: Date.now() - started };
}

const unavailable = {
  error: {
    code: 'payments_unavailable',
    message: 'Payments are unavailable for a moment. Please try again shortly.',
    requestId: expect.any(String),
  },
};

describe('when Stripe cannot be reached', () => {
  it('then membership checkout answers 503 payments_unavailable with Retry-After, within the Stripe timeout', async () => {
    const { res, json, ms } = await timedPost('/memberships/checkout', {
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'eur',
      email: 'reader@example.com',
    });
    expect(res.status).toBe(503);
    expect(json).toEqual(unavailable);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(ms).toBeLessThan(BUDGET_MS);
  });

  it('then gift checkout answers 503 payments_unavailable and stores no gift', async () => {
    const { res, json, ms } = await timedPost('/gifts/checkout', {
      purchaserName: 'Olena',
      purchaserEmail: 'olena@example.com',
      recipientName: 'Taras',
      recipientEmail: 'taras@example.com',
      message: 'Happy birthday!',
      durationMonths: 12,
      currency: 'eur',
      deliverOn: '2026-11-27',
    });
    expect(res.status).toBe(503);
    expect(json).toEqual(unavailable);
    expect(res.headers.get('retry-after')).not.toBeNull();
    expect(ms).toBeLessThan(BUDGET_MS);
    expect(await giftModel(app.deps.db).countDocuments()).toBe(0);
  });

  it('then the Customer Portal button answers 503 payments_unavailable', async () => {
    const member = await membershipModels(app.deps.db).Member.create({
      email: 'member@example.com',
      stripeCustomerId: 'cus_member',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2026-10-01T00:00:00Z'),
      joinedVia: 'sub_member',
    });
    const session = await startMemberSession(
      { db: app.deps.db, clock: app.deps.clock, sessions: { days: 30, idleDays: 7 } },
      String(member._id),
    );
    const { res, json, ms } = await timedPost('/account/billing-portal', undefined, {
      cookie: `${SESSION_COOKIE}=${session}`,
    });
    expect(res.status).toBe(503);
    expect(json).toEqual(unavailable);
    expect(ms).toBeLessThan(BUDGET_MS);
  });
});
