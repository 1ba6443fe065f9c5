import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Paying into the pool: a retried checkout returns the session Stripe made, tax applies as it does
// to memberships when configured, and a free amount has the same floor as a one-time contribution
// (the smallest payment a form takes is what card testers use).

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;

beforeAll(async () => {
  recorder = await startStripeRecorder({ idempotency: true });
  app = await startTestApp({
    config: testConfig({ STRIPE_AUTOMATIC_TAX: 'true' }),
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
  const now = app.deps.clock.now().getTime();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: 'Our birthday drive',
    goal: 1000,
    startsAt: new Date(now - 86_400_000),
    endsAt: new Date(now + 86_400_000),
    timeZone: 'UTC',
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

const sponsor = (body: Record<string, unknown>, key?: string) =>
  fetch(`${app.url}/sponsorships/checkout`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: JSON.stringify({ campaign: 'birthday', currency: 'eur', ...body }),
  });
const sessionsAsked = (key: string) =>
  recorder.requests.filter((r) => r.path === '/v1/checkout/sessions' && r.idempotencyKey === key);

describe('sponsorship checkout', () => {
  it('when a sponsorship checkout is retried with the same Idempotency-Key, then the same session comes back and Stripe made one', async () => {
    const body = { email: 'anna@example.com', memberships: 2 };
    const first = await sponsor(body, 'sponsor-retry-0001');
    const again = await sponsor(body, 'sponsor-retry-0001');
    expect(first.status).toBe(201);
    expect(await again.json()).toEqual(await first.json());
    const asked = sessionsAsked('sponsor:sponsor-retry-0001');
    expect(asked).toHaveLength(2);
    expect(asked.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it('when automatic tax is configured, then the sponsorship session asks Stripe Tax for it, tax included in the amount', async () => {
    expect((await sponsor({ email: 'tax@example.com', amount: 2000 }, 'sponsor-tax-0001')).status).toBe(201);
    expect(sessionsAsked('sponsor:sponsor-tax-0001')[0]!.params).toMatchObject({
      'automatic_tax[enabled]': 'true',
      'line_items[0][price_data][tax_behavior]': 'inclusive',
      'line_items[0][price_data][unit_amount]': '2000',
    });
  });

  it('when a free amount is below the one-time minimum (5.00 by default), then 422 names the amount and Stripe is not asked; at the minimum it goes through', async () => {
    const before = recorder.requests.length;
    for (const amount of [100, 499]) {
      const res = await sponsor({ email: 'small@example.com', amount });
      expect(res.status).toBe(422);
      const { error } = (await res.json()) as { error: { details: { path: string; message: string }[] } };
      expect(error.details).toEqual([{ path: 'amount', message: 'at least €5.00' }]);
    }
    expect(recorder.requests.length).toBe(before);
    expect((await sponsor({ email: 'small@example.com', amount: 500 })).status).toBe(201);
  });
});

describe('membership checkout minimums', () => {
  it('when a one-time contribution or an own membership amount is under 5.00, then it is refused with 422 naming the range', async () => {
    for (const body of [
      { kind: 'one_time', amount: 100 },
      { kind: 'membership', plan: 'custom', interval: 'month', amount: 300 },
    ]) {
      const res = await fetch(`${app.url}/memberships/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, currency: 'eur', email: 'min@example.com' }),
      });
      expect(res.status).toBe(422);
      const { error } = (await res.json()) as { error: { details: { message: string }[] } };
      expect(error.details[0]!.message).toContain('€5.00');
    }
  });
});
