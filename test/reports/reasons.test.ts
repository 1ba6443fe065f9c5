import { afterAll, beforeAll, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import {
  checkoutSession,
  postEvent,
  purchase,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Why money went back and why members left, as finance reads it: refunds and disputes by Stripe's
// reason (only our charges), cancellations by the reason and feedback the Portal asked for.

let fake: FakeStripe;
let app: TestApp;
let finance: Record<string, string>;

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC' }),
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection) },
  });
  finance = { authorization: (await staffToken(app.url, app.deps.db, 'finance')).authorization };
});
afterAll(async () => {
  await app.close();
  await fake.close();
});

async function send(type: string, object: Record<string, unknown>, created = T0) {
  expect((await postEvent(app.url, stripeEvent(type, object, created))).status).toBe(200);
}

/** A one-time contribution Stripe charged and we recorded. */
async function contribution(amount: number, currency = 'eur') {
  const p = purchase({ amount, currency });
  const money = fake.charge({
    id: `ch_${p.paymentIntent}`,
    paymentIntent: p.paymentIntent,
    amount,
    currency,
    created: T0,
  });
  await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), T0);
  return money.chargeId;
}

it('when refunds, disputes and cancellations happen, then each is counted by its reason to the cent, and the comment is not kept', async () => {
  const [a, b, c, d, e] = [
    await contribution(1000),
    await contribution(2000),
    await contribution(3000),
    await contribution(4000),
    await contribution(5000, 'usd'),
  ];
  fake.refund({ charge: a, amount: 1000, created: T0 + 100, reason: 'requested_by_customer' });
  fake.refund({ charge: b, amount: 500, created: T0 + 200, reason: 'requested_by_customer' });
  fake.refund({ charge: c, amount: 3000, created: T0 + 300, reason: 'duplicate' });
  fake.refund({ charge: b, amount: 250, created: T0 + 400 }); // no reason given
  // Another app's charge on the same account: not ours, not in the report.
  const foreign = fake.charge({ amount: 777, currency: 'eur', created: T0 });
  fake.refund({ charge: foreign.chargeId, amount: 777, created: T0 + 500, reason: 'fraudulent' });
  fake.dispute({ id: 'dp_lost', charge: d, created: T0 + 600, reason: 'fraudulent' });
  fake.dispute({ id: 'dp_won', charge: e, created: T0 + 700, won: T0 + 800, reason: 'product_not_received' });

  const leaving = purchase({ amount: 500, currency: 'eur' });
  const failing = purchase({ amount: 500, currency: 'eur' });
  for (const p of [leaving, failing]) {
    await send('checkout.session.completed', checkoutSession(p), T0);
    await send('customer.subscription.updated', subscription(p, 'active'), T0 + 1);
  }
  await send(
    'customer.subscription.updated',
    {
      ...subscription(leaving, 'active', { cancelAtPeriodEnd: true }),
      canceled_at: T0 + 900,
      cancellation_details: {
        reason: 'cancellation_requested',
        feedback: 'too_expensive',
        comment: 'Money is tight',
      },
    },
    T0 + 900,
  );
  await send(
    'customer.subscription.deleted',
    {
      ...subscription(failing, 'canceled'),
      canceled_at: T0 + 1000,
      cancellation_details: { reason: 'payment_failed', feedback: null, comment: null },
    },
    T0 + 1000,
  );

  const res = await fetch(`${app.url}/reports/reasons?from=2026-11-18&to=2026-11-20`, { headers: finance });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({
    timeZone: 'UTC',
    from: '2026-11-18',
    to: '2026-11-20',
    cancellations: [
      { reason: 'cancellation_requested', feedback: 'too_expensive', count: 1 },
      { reason: 'payment_failed', feedback: 'none', count: 1 },
    ],
    refunds: [
      { reason: 'duplicate', status: 'succeeded', currency: 'eur', count: 1, amount: 3000 },
      { reason: 'none', status: 'succeeded', currency: 'eur', count: 1, amount: 250 },
      { reason: 'requested_by_customer', status: 'succeeded', currency: 'eur', count: 2, amount: 1500 },
    ],
    disputes: [
      {
        reason: 'fraudulent',
        status: 'needs_response',
        currency: 'eur',
        count: 1,
        amount: 4000,
        feeCurrency: 'eur',
        fees: 1500,
      },
      {
        reason: 'product_not_received',
        status: 'won',
        currency: 'usd',
        count: 1,
        amount: 5000,
        feeCurrency: 'usd',
        fees: 0,
      },
    ],
    unchecked: [],
  });

  const csv = await fetch(`${app.url}/reports/reasons?from=2026-11-18&to=2026-11-20&format=csv`, {
    headers: finance,
  });
  expect((await csv.text()).trim().split('\n')).toEqual([
    'section,reason,feedback,status,currency,count,amount,fee_currency,fees',
    'cancellation,cancellation_requested,too_expensive,,,1,,,',
    'cancellation,payment_failed,none,,,1,,,',
    'refund,duplicate,,succeeded,eur,1,3000,,',
    'refund,none,,succeeded,eur,1,250,,',
    'refund,requested_by_customer,,succeeded,eur,2,1500,,',
    'dispute,fraudulent,,needs_response,eur,1,4000,eur,1500',
    'dispute,product_not_received,,won,usd,1,5000,usd,0',
  ]);

  // The member's own words stay in Stripe (docs/privacy.md).
  const stored =
    JSON.stringify(await app.deps.db.collection('subscriptions').find().toArray()) +
    JSON.stringify(await app.deps.db.collection('subscription_observations').find().toArray());
  expect(stored).toContain('too_expensive');
  expect(stored).not.toContain('Money is tight');
});

it('when Stripe fails to list disputes, then refunds and cancellations are still reported and the disputes are marked unchecked', async () => {
  const heal = fake.fail('/v1/disputes');
  const res = await fetch(`${app.url}/reports/reasons?from=2026-11-18&to=2026-11-20`, {
    headers: finance,
  }).finally(heal);
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.refunds).toHaveLength(3);
  expect(body.cancellations).toHaveLength(2);
  expect(body.disputes).toEqual([]);
  expect(body.unchecked).toEqual([
    { what: 'disputes', error: 'StripeAPIError: An unknown error occurred (fake).' },
  ]);
});
