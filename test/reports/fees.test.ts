import { afterAll, beforeAll, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import { T0 } from '../support/stripe-events.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Net revenue after every Stripe fee: the card fees on each payment, and Billing, Radar, Tax and
// conversion fees that Stripe books as transactions of their own.

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

const fee = (id: string, type: string, amount: number, created: number) =>
  fake.put({
    id,
    object: 'balance_transaction',
    type,
    reporting_category: 'fee',
    amount: -amount,
    fee: 0,
    net: -amount,
    currency: 'eur',
    created,
    description: `${type} (test)`,
  });

it('when Stripe books payments, a refund, a lost dispute and Billing, Tax and conversion fees, then the net is gross less every one of them, per month', async () => {
  const dec = Date.parse('2026-12-02T00:00:00Z') / 1000;
  const a = fake.charge({ amount: 10_000, currency: 'eur', created: T0 }); // fee 320
  fake.charge({ amount: 5000, currency: 'eur', created: T0 + 60 }); // fee 175
  fake.refund({ charge: a.chargeId, amount: 2000, created: T0 + 120 });
  const c = fake.charge({ amount: 3000, currency: 'eur', created: T0 + 180 }); // fee 117
  fake.dispute({ id: 'dp_fees', charge: c.chargeId, created: T0 + 240 }); // −3000, fee 1500
  fee('txn_billing', 'stripe_fee', 270, T0 + 300); // Billing 0.7 % etc.
  fee('txn_tax', 'tax_fee', 50, T0 + 360);
  fee('txn_fx', 'stripe_fx_fee', 12, T0 + 420);
  fee('txn_radar_dec', 'stripe_fee', 5, dec);
  fake.payout({ amount: 1000, currency: 'eur', created: T0 + 500 }); // not revenue

  const res = await fetch(`${app.url}/reports/fees?from=2026-11-01&to=2026-12-31&format=csv`, {
    headers: finance,
  });
  expect(res.status).toBe(200);
  expect((await res.text()).trim().split('\n')).toEqual([
    'month,currency,gross,refunds,disputes,processingFees,stripeFees,taxFees,fxFees,net',
    // 18000 − 2000 − 3000 − (320 + 175 + 117 + 1500) − 270 − 50 − 12 = 10556
    '2026-11,eur,18000,-2000,-3000,2112,270,50,12,10556',
    '2026-12,eur,0,0,0,0,5,0,0,-5',
  ]);
});
