import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { deep } from '../support/depth.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import {
  checkoutSession,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  subscription,
  T0,
  type TestEvent,
} from '../support/stripe-events.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// MRR is what each subscription bills: every item's price × quantity, less the discounts that
// still recur, normalised to a month; trials (gift months) are not paying and are shown apart.
// Delivered through the signed webhook, shuffled and duplicated: the figures finance reads do not
// depend on the order Stripe sends them in.

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

const coupon = (id: string, fields: Record<string, unknown>) => ({
  id,
  object: 'coupon',
  created: T0 - 86_400,
  percent_off: null,
  amount_off: null,
  currency: null,
  duration: 'forever',
  ...fields,
});
const discount = (id: string, c: unknown, end: number | null = null) => ({
  id,
  object: 'discount',
  start: T0 - 86_400,
  end,
  source: { type: 'coupon', coupon: c },
});

/** The subscriptions of the scenario, as customer.subscription.updated carries them. */
function scenario() {
  const seats = purchase({ amount: 500, currency: 'eur' });
  const yearly = purchase({ plan: 'patron', interval: 'year', amount: 12_000, currency: 'eur' });
  const weekly = purchase({ amount: 100, currency: 'usd' });
  const gifted = purchase({ amount: 500, currency: 'eur' });
  const ended = purchase({ amount: 400, currency: 'eur' });
  const withItems = (
    p: typeof seats,
    status: string,
    change: (s: ReturnType<typeof subscription>) => object,
  ) => {
    const s = subscription(p, status);
    return { ...s, created: p.at, ...change(s) };
  };
  const subs = [
    // Two seats of EUR 5.00 and an extra item of EUR 3.00, 10 % off forever (expanded in the event).
    withItems(seats, 'active', (s) => ({
      items: {
        object: 'list',
        data: [
          { ...s.items.data[0]!, quantity: 2 },
          {
            ...s.items.data[0]!,
            id: 'si_extra',
            quantity: 1,
            price: { ...s.items.data[0]!.price, id: 'price_extra', lookup_key: null, unit_amount: 300 },
          },
        ],
      },
      discounts: [discount(`di_${seats.subscription}`, coupon('co_ten', { percent_off: 10 }))],
    })),
    // EUR 120.00 a year, EUR 12.00 off forever: the event names the discount only by id.
    withItems(yearly, 'active', () => ({ discounts: [`di_${yearly.subscription}`] })),
    // USD 1.00 a week: 52 weeks in a year of 12 months.
    withItems(weekly, 'active', (s) => ({
      items: {
        object: 'list',
        data: [
          { ...s.items.data[0]!, price: { ...s.items.data[0]!.price, recurring: { interval: 'week' } } },
        ],
      },
    })),
    // A paying member's gift months: a trial, not paying.
    withItems(gifted, 'trialing', () => ({ trial_end: T0 + 60 * 86_400 })),
    // A 50 % coupon for one invoice and a repeating one that has ended: neither recurs.
    withItems(ended, 'active', () => ({
      discounts: [
        discount(`di_once_${ended.subscription}`, coupon('co_once', { percent_off: 50, duration: 'once' })),
        discount(
          `di_rep_${ended.subscription}`,
          coupon('co_rep', { amount_off: 100, currency: 'eur', duration: 'repeating' }),
          T0 - 3600,
        ),
      ],
    })),
  ];
  // Stripe's own copy of the yearly one, for the report's lookup of its coupon.
  fake.put(coupon('co_twelve', { amount_off: 1200, currency: 'eur' }));
  fake.put({
    ...subs[1]!,
    created: T0,
    discounts: [discount(`di_${yearly.subscription}`, 'co_twelve')],
  } as never);
  const events = [seats, yearly, weekly, gifted, ended].flatMap((p, i) => [
    stripeEvent('checkout.session.completed', checkoutSession(p), T0),
    stripeEvent('customer.subscription.updated', subs[i]!, T0 + 1),
  ]);
  return events;
}

async function summary() {
  const res = await fetch(`${app.url}/reports/summary?from=2026-11-01&to=2026-11-30`, { headers: finance });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

it('when subscriptions with quantities, extra items, discounts, a weekly plan and a trial are delivered in any order, then MRR is what they bill a month and the trial is apart', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 1_000_000 }),
      fc.integer({ min: 0, max: 9 }),
      async (seed, dup) => {
        await Promise.all(
          [
            'members',
            'member_keys',
            'subscriptions',
            'subscription_observations',
            'member_subscriptions',
            'ledger',
            'stripe_events',
          ].map((c) => app.deps.db.collection(c).deleteMany({})),
        );
        fake.reset();
        const events: TestEvent[] = scenario();
        events.push(events[dup]!);
        const shuffled = events
          .map((event, i) => ({ event, key: (seed * (i + 7919)) % 104_729 }))
          .sort((a, b) => a.key - b.key)
          .map(({ event }) => event);
        for (const event of shuffled) await postEvent(app.url, event);
        await settleStripeEvents(app);

        const report = await summary();
        // EUR: (2 × 500 + 300) − 10 % = 1170; (12000 − 1200) / 12 = 900; 400 (no recurring discount).
        // USD: 100 × 52 / 12 = 433.33.
        expect(report.mrr).toEqual({ eur: 1170 + 900 + 400, usd: 433 });
        expect(report.trialing).toEqual({ members: 1, mrrAfterTrial: { eur: 500 } });
        expect(report.unpricedDiscounts).toBe(0);
        expect(report.activeByPlan).toContainEqual({
          plan: 'supporter',
          interval: 'month',
          currency: 'eur',
          members: 1,
          trialing: true,
        });
      },
    ),
    { seed: 20261207, numRuns: deep(3) },
  );
}, 120_000);

it('when Stripe cannot be asked for a discount given by id, then MRR counts it undiscounted and says how many', async () => {
  fake.fail(
    '/v1/subscriptions/' +
      String((await app.deps.db.collection('subscriptions').findOne({ plan: 'patron' }))?._id),
  );
  const report = await summary();
  expect(report.unpricedDiscounts).toBe(1);
  expect(report.mrr).toEqual({ eur: 1170 + 1000 + 400, usd: 433 });
});
