import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { payoutsBody } from '../../src/reports/reports.docs.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import {
  charge,
  checkoutSession,
  dispute,
  postEvent,
  purchase,
  stripeEvent,
  T0,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Payout reconciliation: what each Stripe payout carried (Stripe's balance transactions for the
// payout, planted in a scripted account) against what our ledger booked for the same transactions.

let fake: FakeStripe;
let app: TestApp;
let finance: Record<string, string>;
const clock = manualClock(new Date((T0 + 3600) * 1000));
const DAY = 86_400;

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection) },
  });
  finance = { authorization: (await staffToken(app.url, app.deps.db, 'finance')).authorization };
});
afterAll(async () => {
  await app.close();
  await fake.close();
});
beforeEach(async () => {
  fake.reset();
  await Promise.all(
    [
      'members',
      'subscriptions',
      'ledger',
      'payment_links',
      'refund_steps',
      'settlement_due',
      'stripe_events',
    ].map((c) => app.deps.db.collection(c).deleteMany({})),
  );
});

async function send(type: string, object: Record<string, unknown>, created = T0) {
  const res = await postEvent(app.url, stripeEvent(type, object, created));
  expect(res.status).toBe(200);
}

/** A one-time contribution, charged in Stripe and recorded from its webhook. */
async function contribution(amount: number, created: number) {
  const p = purchase({ amount, currency: 'eur', at: created });
  const money = fake.charge({
    id: `ch_${p.paymentIntent}`,
    paymentIntent: p.paymentIntent,
    amount,
    currency: 'eur',
    created,
  });
  await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), created);
  return { p, ...money };
}

const stripeFee = (id: string, amount: number, created: number) =>
  fake.put({
    id,
    object: 'balance_transaction',
    type: 'stripe_fee',
    reporting_category: 'fee',
    amount: -amount,
    fee: 0,
    net: -amount,
    currency: 'eur',
    created,
    source: null,
  }).id;

async function payouts(from: string, to: string, format = 'json') {
  const res = await fetch(`${app.url}/reports/payouts?from=${from}&to=${to}&format=${format}`, {
    headers: finance,
  });
  expect(res.status).toBe(200);
  return res;
}

describe('payout reconciliation', () => {
  it('when a payout holds two charges, a refund, a dispute and a Billing fee our ledger booked, then it matches to the cent', async () => {
    const a = await contribution(5000, T0); // fee 175
    const b = await contribution(3000, T0 + 60); // fee 117
    const refund = fake.refund({ charge: a.chargeId, amount: 1000, created: T0 + 120 });
    await send('charge.refunded', charge(a.p, { amountRefunded: 1000, kind: 'one_time' }), T0 + 120);
    const disputed = dispute(b.p, 'needs_response');
    fake.dispute({ id: disputed.id, charge: b.chargeId, created: T0 + 180 }); // −3000, fee 1500
    await send('charge.dispute.created', disputed, T0 + 180);
    const fee = stripeFee('txn_billing_fee', 50, T0 + 200);
    const disputeTransaction = (fake.get(disputed.id)!.balance_transactions as { id: string }[])[0]!.id;
    // 5000 − 175 + 3000 − 117 − 1000 − 3000 − 1500 − 50
    const payout = fake.payout({
      amount: 2158,
      currency: 'eur',
      created: T0 + DAY,
      arrival: T0 + 2 * DAY, // 2026-11-20
      carries: [
        a.balanceTransaction.id,
        b.balanceTransaction.id,
        refund.balanceTransaction.id,
        disputeTransaction,
        fee,
      ],
    });

    const body = payoutsBody.parse(await (await payouts('2026-11-20', '2026-11-20')).json());
    expect(body).toMatchObject({ clean: true, problems: [], unchecked: [] });
    expect(body.payouts).toEqual([
      {
        payoutId: payout.id,
        status: 'paid',
        automatic: true,
        arrivalDate: '2026-11-20',
        created: new Date((T0 + DAY) * 1000).toISOString(),
        currency: 'eur',
        amount: 2158,
        itemised: true,
        transactions: 5,
        charges: 8000,
        refunds: -1000,
        disputes: -3000,
        fees: 175 + 117 + 1500 + 50,
        returnedPayouts: 0,
        other: 0,
        net: 2158,
        supporterNet: 2208,
        ledgerNet: 2208,
        unbooked: 0,
        failure: null,
        clean: true,
      },
    ]);

    const csv = await (await payouts('2026-11-20', '2026-11-20', 'csv')).text();
    expect(csv.trim().split('\n')).toEqual([
      'payout,status,arrival_date,currency,amount,charges,refunds,disputes,fees,returned_payouts,other,net,supporter_net,ledger_net,unbooked,clean,problems',
      `${payout.id},paid,2026-11-20,eur,2158,8000,-1000,-3000,1842,0,0,2158,2208,2208,0,true,`,
    ]);
  });

  it('when a payout holds a charge our ledger never booked, then that balance transaction is flagged and the payout is not clean', async () => {
    const ours = await contribution(2000, T0); // fee 88
    const stray = fake.charge({ amount: 999, currency: 'eur', created: T0 + 30 }); // fee 59
    const payout = fake.payout({
      amount: 1912 + 940,
      currency: 'eur',
      created: T0 + DAY,
      arrival: T0 + 2 * DAY,
      carries: [ours.balanceTransaction.id, stray.balanceTransaction.id],
    });

    const body = payoutsBody.parse(await (await payouts('2026-11-20', '2026-11-20')).json());
    expect(body.clean).toBe(false);
    expect(body.payouts[0]).toMatchObject({
      payoutId: payout.id,
      charges: 2999,
      net: 2852,
      supporterNet: 2852,
      ledgerNet: 1912,
      unbooked: 940,
      clean: false,
    });
    expect(body.problems).toEqual([
      {
        problem: 'missing_ours',
        payoutId: payout.id,
        balanceTransactionId: stray.balanceTransaction.id,
        category: 'charge',
        source: stray.chargeId,
        amount: 999,
        currency: 'eur',
      },
    ]);
    const csv = await (await payouts('2026-11-20', '2026-11-20', 'csv')).text();
    expect(csv).toContain(`missing_ours ${stray.balanceTransaction.id} (charge ${stray.chargeId} 999 eur)`);
  });

  it('when a payout holds a payment whose ledger entry was not settled yet, then the report settles it and it matches', async () => {
    const p = purchase({ amount: 1500, currency: 'eur', at: T0 });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' })); // Stripe has not booked it
    const booked = fake.charge({
      paymentIntent: p.paymentIntent,
      amount: 1500,
      currency: 'eur',
      created: T0 + 60,
    }); // fee 74
    fake.payout({
      amount: 1426,
      currency: 'eur',
      created: T0 + DAY,
      arrival: T0 + 2 * DAY,
      carries: [booked.balanceTransaction.id],
    });

    const body = payoutsBody.parse(await (await payouts('2026-11-20', '2026-11-20')).json());
    expect(body).toMatchObject({ clean: true, problems: [] });
    expect(body.payouts[0]).toMatchObject({ net: 1426, ledgerNet: 1426, unbooked: 0 });
  });

  it('when a payout fails, then it shows why and the money it returned is paid out again in the next payout', async () => {
    const first = await contribution(1000, T0); // fee 59 → 941
    const second = await contribution(2000, T0 + DAY); // fee 88 → 1912
    const failed = fake.payout({
      amount: 941,
      currency: 'eur',
      created: T0 + DAY,
      arrival: T0 + 2 * DAY,
      carries: [first.balanceTransaction.id],
    });
    const returned = fake.failPayout(failed.id, { created: T0 + 3 * DAY, code: 'account_closed' });
    const next = fake.payout({
      amount: 941 + 1912,
      currency: 'eur',
      created: T0 + 4 * DAY,
      arrival: T0 + 5 * DAY, // 2026-11-23
      carries: [returned.id, second.balanceTransaction.id],
    });

    const body = payoutsBody.parse(await (await payouts('2026-11-20', '2026-11-23')).json());
    expect(body.clean).toBe(true);
    expect(body.payouts).toMatchObject([
      {
        payoutId: failed.id,
        status: 'failed',
        amount: 941,
        charges: 1000,
        net: 941,
        ledgerNet: 941,
        returnedPayouts: 0,
        failure: {
          code: 'account_closed',
          message: 'The bank account has been closed.',
          returnedBy: returned.id,
        },
      },
      {
        payoutId: next.id,
        status: 'paid',
        amount: 2853,
        charges: 2000,
        returnedPayouts: 941,
        net: 2853,
        supporterNet: 1912,
        ledgerNet: 1912,
        failure: null,
      },
    ]);
  });

  it('when Stripe fails to list what a payout carried, then that payout is unchecked, not clean, and the report still answers', async () => {
    const paid = await contribution(1000, T0);
    const payout = fake.payout({
      amount: 941,
      currency: 'eur',
      created: T0 + DAY,
      arrival: T0 + 2 * DAY,
      carries: [paid.balanceTransaction.id],
    });
    fake.fail('/v1/balance_transactions');

    const body = payoutsBody.parse(await (await payouts('2026-11-20', '2026-11-20')).json());
    expect(body.clean).toBe(false);
    expect(body.unchecked).toMatchObject([{ what: 'payout_transactions', reference: payout.id }]);
    expect(body.payouts).toMatchObject([{ payoutId: payout.id, amount: 941, itemised: false, clean: false }]);
  });

  it('when a payout carries more transactions than one page and the period more payouts than one page, then every page is read', async () => {
    const paid = await contribution(3000, T0); // fee 117 → 2883
    const fees = Array.from({ length: 120 }, (_, i) => stripeFee(`txn_radar_${i}`, 1, T0 + 100 + i));
    fake.payout({
      amount: 2883 - 120,
      currency: 'eur',
      created: T0 + DAY,
      arrival: T0 + 2 * DAY,
      carries: [paid.balanceTransaction.id, ...fees],
    });
    for (let i = 0; i < 110; i++)
      fake.payout({
        amount: 100,
        currency: 'eur',
        created: T0 + DAY + i,
        arrival: T0 + 2 * DAY,
        automatic: false,
      });

    const body = payoutsBody.parse(await (await payouts('2026-11-20', '2026-11-20')).json());
    const automatic = body.payouts.filter((p) => p.automatic);
    expect(automatic).toMatchObject([
      { transactions: 121, fees: 117 + 120, net: 2763, ledgerNet: 2883, clean: true },
    ]);
    expect(body.payouts).toHaveLength(111);
    expect(body.problems).toEqual([]);
    expect(fake.requests.filter((r) => r.path === '/v1/payouts').length).toBeGreaterThan(1);
    expect(fake.requests.filter((r) => r.path === '/v1/balance_transactions').length).toBeGreaterThan(1);
  });
});
