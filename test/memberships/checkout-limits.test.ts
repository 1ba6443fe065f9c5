import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giftModel } from '../../src/gifts/gift.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Card testing: a stolen card is tried through many Checkout Sessions. Session starts are limited
// per IP (20 per 10 minutes) and per address (10 per hour) with the deployed defaults, across
// membership, gift and sponsorship checkout alike.

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    config: testConfig({ CHECKOUT_SESSIONS_PER_IP: undefined, CHECKOUT_SESSIONS_PER_EMAIL: undefined }),
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

const post = (path: string, body: Record<string, unknown>, ip: string) =>
  fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify(body),
  });
const membership = (email: string, ip: string) =>
  post(
    '/memberships/checkout',
    { kind: 'membership', plan: 'supporter', interval: 'month', currency: 'eur', email },
    ip,
  );
const sessionsStarted = () => recorder.requests.filter((r) => r.path === '/v1/checkout/sessions').length;

describe('checkout limits', () => {
  it('when one IP starts 30 checkouts in a minute, then the 21st on is refused with 429 and Retry-After, and Stripe saw 20', async () => {
    const before = sessionsStarted();
    const answers = [];
    for (let i = 0; i < 30; i++) answers.push(await membership(`reader${i}@example.com`, '203.0.113.7'));
    expect(answers.map((r) => r.status)).toEqual([...Array(20).fill(201), ...Array(10).fill(429)]);
    const refused = answers[20]!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    expect(sessionsStarted() - before).toBe(20);
  });

  it('when that IP then buys a gift, then it is refused too and no gift is stored', async () => {
    const gifts = await giftModel(app.deps.db).countDocuments();
    const res = await post(
      '/gifts/checkout',
      {
        purchaserName: 'Olena',
        purchaserEmail: 'gift-buyer@example.com',
        recipientName: 'Taras',
        recipientEmail: 'taras@example.com',
        durationMonths: 12,
        currency: 'eur',
        deliverOn: app.deps.clock.now().toISOString().slice(0, 10),
      },
      '203.0.113.7',
    );
    expect(res.status).toBe(429);
    expect(await giftModel(app.deps.db).countDocuments()).toBe(gifts);
  });

  it('when one address starts checkouts from ever new IPs, then the 11th in the hour is refused', async () => {
    const statuses = [];
    for (let i = 0; i < 12; i++)
      statuses.push((await membership('carder@example.com', `198.51.100.${i}`)).status);
    expect(statuses).toEqual([...Array(10).fill(201), 429, 429]);
  });
});
