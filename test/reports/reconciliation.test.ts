import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { settleUnsettledEntries } from '../../src/ledger/settlement.service.js';
import { reconciliationBody, revenueBody } from '../../src/reports/reports.docs.js';
import { reportPullModel } from '../../src/staff/audit.model.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { spawnScript } from '../support/server-process.js';
import { staffToken } from '../support/staff.js';
import {
  charge,
  checkoutSession,
  dispute,
  invoice,
  postEvent,
  purchase,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import {
  databaseUri,
  manualClock,
  startTestApp,
  TEST_ENV,
  type TestApp,
  testConfig,
} from '../support/test-app.js';

// Stripe's account is a scripted fake here: stripe-mock answers every retrieve with the same
// fixture, so it cannot hold a planted fee, exchange rate or a charge our ledger never saw.

let fake: FakeStripe;
let app: TestApp;
let finance: Record<string, string>;
const clock = manualClock(new Date((T0 + 3600) * 1000));

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
  await Promise.all(
    ['members', 'subscriptions', 'ledger', 'stripe_events', 'email_jobs', 'campaign_contributions'].map((c) =>
      app.deps.db.collection(c).deleteMany({}),
    ),
  );
});

const entry = (id: string) => ledgerModel(app.deps.db).findById(id).lean();
async function send(type: string, object: Record<string, unknown>, created = T0) {
  const res = await postEvent(app.url, stripeEvent(type, object, created));
  expect(res.status).toBe(200);
}
/** The reconciliation, checked against the schema the OpenAPI document publishes. */
const reconcile = async (from: string, to: string) => {
  const res = await fetch(`${app.url}/reports/reconciliation?from=${from}&to=${to}`, { headers: finance });
  expect(res.status).toBe(200);
  return reconciliationBody.parse(await res.json());
};

/** A one-time contribution, paid, recorded from its webhook. */
async function contribution(
  amount: number,
  created: number,
  options: { stripeAmount?: number; settle?: { currency: string; rate: number } } = {},
) {
  const p = purchase({ amount, currency: 'eur' });
  const money = fake.charge({
    id: `ch_${p.paymentIntent}`,
    paymentIntent: p.paymentIntent,
    amount: options.stripeAmount ?? amount,
    currency: 'eur',
    created,
    settle: options.settle,
  });
  await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), created);
  return { p, ...money };
}

describe('Stripe money on ledger entries', () => {
  it('when a payment in euros settles in dollars, then its fee, net, settlement currency and rate are recorded', async () => {
    const { p, chargeId, balanceTransaction } = await contribution(2000, T0, {
      settle: { currency: 'usd', rate: 1.0875 },
    });
    const recorded = await entry(p.paymentIntent);
    expect(recorded).toMatchObject({ amount: 2000, currency: 'eur', chargeId });
    expect(recorded?.settlement).toMatchObject({
      balanceTransactionIds: [balanceTransaction.id],
      sources: [chargeId],
      currency: 'usd',
      amount: 2175, // 20.00 EUR × 1.0875
      fee: 93, // 2.9% of 21.75 + 0.30
      net: 2082,
      exchangeRate: 1.0875,
    });
  });

  it('when a subscription invoice is paid (no charge on the invoice since 2025), then it is settled through its invoice payment', async () => {
    const p = purchase({ amount: 1200, currency: 'usd' });
    const paid = invoice(p);
    const { chargeId } = fake.charge({
      amount: 1200,
      currency: 'usd',
      created: T0 + 5,
      invoice: String(paid.id),
    });
    await send('checkout.session.completed', checkoutSession(p));
    await send('customer.subscription.created', subscription(p, 'active'));
    await send('invoice.paid', paid, T0 + 5);
    const recorded = await entry(String(paid.id));
    expect(recorded).toMatchObject({
      chargeId,
      settlement: { currency: 'usd', amount: 1200, fee: 65, net: 1135, exchangeRate: null },
    });
  });

  it('when a charge is refunded twice, then each refund entry carries its own refund and fee-free balance transaction', async () => {
    const p = purchase({ amount: 5000, currency: 'eur' });
    const { chargeId } = fake.charge({
      id: `ch_${p.paymentIntent}`,
      paymentIntent: p.paymentIntent,
      amount: 5000,
      currency: 'eur',
      created: T0,
    });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
    const first = fake.refund({ charge: chargeId, amount: 1000, created: T0 + 100 });
    await send('charge.refunded', charge(p, { amountRefunded: 1000, kind: 'one_time' }), T0 + 100);
    const second = fake.refund({ charge: chargeId, amount: 2000, created: T0 + 200 });
    await send('charge.refunded', charge(p, { amountRefunded: 3000, kind: 'one_time' }), T0 + 200);

    expect((await entry(`refund:${chargeId}:1000`))?.settlement).toMatchObject({
      sources: [first.refundId],
      amount: -1000,
      fee: 0,
      net: -1000,
    });
    expect((await entry(`refund:${chargeId}:3000`))?.settlement).toMatchObject({
      sources: [second.refundId],
      amount: -2000,
      net: -2000,
    });
  });

  it('when a dispute is opened and won, then the withdrawal carries the dispute fee and the reversal returns it', async () => {
    const p = purchase({ amount: 3000, currency: 'eur' });
    const { chargeId } = fake.charge({
      id: `ch_${p.paymentIntent}`,
      paymentIntent: p.paymentIntent,
      amount: 3000,
      currency: 'eur',
      created: T0,
    });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
    const disputed = dispute(p, 'needs_response');
    fake.dispute({ id: disputed.id, charge: chargeId, created: T0 + 100, won: T0 + 900 });
    await send('charge.dispute.created', disputed, T0 + 100);
    await send('charge.dispute.closed', dispute(p, 'won'), T0 + 900);

    expect((await entry(disputed.id))?.settlement).toMatchObject({ amount: -3000, fee: 1500, net: -4500 });
    expect((await entry(`${disputed.id}:won`))?.settlement).toMatchObject({
      amount: 3000,
      fee: -1500,
      net: 4500,
    });
  });

  it('when Stripe has not booked a payment yet, then the webhook still succeeds and the sweep settles it later', async () => {
    const p = purchase({ amount: 700, currency: 'eur' });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
    expect(await entry(p.paymentIntent)).toMatchObject({ amount: 700 });
    expect((await entry(p.paymentIntent))?.settlement).toBeUndefined();

    fake.charge({ paymentIntent: p.paymentIntent, amount: 700, currency: 'eur', created: T0 });
    const swept = await settleUnsettledEntries({ ...app.deps, stripe: app.deps.stripe! });
    expect(swept).toEqual({ settled: 1, unsettled: 0 });
    expect((await entry(p.paymentIntent))?.settlement).toMatchObject({ amount: 700, fee: 50 });
  });
});

describe('revenue with Stripe fees', () => {
  it('when payments settle in another currency, then the revenue report shows fees and the settlement-currency total', async () => {
    await contribution(2000, T0, { settle: { currency: 'usd', rate: 1.0875 } });
    await contribution(1000, T0 + 60);
    await send(
      'checkout.session.completed',
      checkoutSession(purchase({ amount: 400, currency: 'eur' }), { kind: 'one_time' }),
    );
    const res = await fetch(`${app.url}/reports/revenue?by=month&from=2026-11&to=2026-11`, {
      headers: finance,
    });
    const body = revenueBody.parse(await res.json());
    expect(body.rows).toEqual([
      {
        period: '2026-11',
        currency: 'eur',
        gross: 3400,
        refunds: 0,
        disputes: 0,
        net: 3400,
        payments: 3,
        outOfBand: 0,
        unsettled: 1,
        settlement: [
          { currency: 'eur', amount: 1000, fees: 59, net: 941 },
          { currency: 'usd', amount: 2175, fees: 93, net: 2082 },
        ],
      },
    ]);
    expect(body.settlementTotals).toEqual([
      { currency: 'eur', amount: 1000, fees: 59, net: 941 },
      { currency: 'usd', amount: 2175, fees: 93, net: 2082 },
    ]);
  });
});

describe('reconciliation against Stripe balance transactions', () => {
  it('when both sides agree (over more than one page of Stripe results), then the period is clean', async () => {
    const day = T0 + 86_400 * 2; // 2026-11-20
    for (let i = 0; i < 3; i++) await contribution(1000 + i, day + i);
    // 120 payouts on the same day: Stripe pages 100 at a time, so the list must be followed.
    for (let i = 0; i < 120; i++) fake.payout({ amount: 10, currency: 'eur', created: day + 10 + i });
    const body = await reconcile('2026-11-20', '2026-11-20');
    expect(body).toMatchObject({
      clean: true,
      matched: 3,
      missingOurs: [],
      missingStripe: [],
      amountDifferences: [],
      otherActivity: [{ category: 'payout', currency: 'eur', count: 120, net: -1200 }],
    });
    const pages = fake.requests.filter((r) => r.path === '/v1/balance_transactions');
    expect(pages.length).toBeGreaterThan(1);
    expect(pages[0]?.query.get('created[gte]')).toBe(String(Date.parse('2026-11-19T00:00:00Z') / 1000));
  });

  it('when Stripe holds a charge we never recorded and one amount differs, then both are reported', async () => {
    const day = T0 + 86_400 * 4; // 2026-11-22
    await contribution(1500, day);
    const differing = await contribution(2500, day + 60, { stripeAmount: 2600 });
    const stray = fake.charge({ amount: 999, currency: 'gbp', created: day + 120 });
    const silent = purchase({ amount: 800, currency: 'eur' }); // recorded by us, unknown to Stripe
    await send('checkout.session.completed', checkoutSession(silent, { kind: 'one_time' }), day + 180);

    const body = await reconcile('2026-11-22', '2026-11-22');
    expect(body.clean).toBe(false);
    expect(body.matched).toBe(1);
    expect(body.missingOurs).toEqual([
      {
        balanceTransactionId: stray.balanceTransaction.id,
        category: 'charge',
        source: stray.chargeId,
        amount: 999,
        currency: 'gbp',
        settlementAmount: 999,
        settlementCurrency: 'gbp',
        created: new Date((day + 120) * 1000).toISOString(),
      },
    ]);
    expect(body.amountDifferences).toEqual([
      {
        entryId: differing.p.paymentIntent,
        kind: 'one_time_payment',
        currency: 'eur',
        ours: 2500,
        stripe: 2600,
        stripeCurrency: 'eur',
        balanceTransactionIds: [differing.balanceTransaction.id],
      },
    ]);
    expect(body.missingStripe).toEqual([
      {
        entryId: silent.paymentIntent,
        kind: 'one_time_payment',
        amount: 800,
        currency: 'eur',
        occurredAt: new Date((day + 180) * 1000).toISOString(),
      },
    ]);
    // The same check as a nightly job: `npm run report -- reconciliation` exits 3 and lists them.
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'reconcile-')), 'problems.csv');
    const uri = databaseUri(app.deps.db.name);
    const cli = spawnScript(
      'src/cli/report.ts',
      {
        MONGODB_URI: uri,
        TIME_ZONE: 'UTC',
        STRIPE_SECRET_KEY: TEST_ENV.STRIPE_SECRET_KEY,
        STRIPE_API_URL: `http://${fake.connection.host}:${fake.connection.port}`,
      },
      ['reconciliation', '--out', out, '--from', '2026-11-22', '--to', '2026-11-22'],
    );
    expect(await cli.exited).toBe(3);
    expect(cli.output()).toContain('reconciliation: 1 matched, 3 problems');
    expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual([
      'problem,reference,kind,currency,ours,stripe,at,stripe_source',
      `missing_ours,${stray.balanceTransaction.id},charge,gbp,,999,${new Date((day + 120) * 1000).toISOString()},${stray.chargeId}`,
      `missing_stripe,${silent.paymentIntent},one_time_payment,eur,800,,${new Date((day + 180) * 1000).toISOString()},`,
      `amount_difference,${differing.p.paymentIntent},one_time_payment,eur,2500,2600,,${differing.balanceTransaction.id}`,
    ]);

    const pull = await reportPullModel(app.deps.db)
      .findOne({ report: 'reconciliation', role: 'finance' })
      .sort({ _id: -1 })
      .lean();
    expect(pull).toMatchObject({
      filters: { from: '2026-11-22', to: '2026-11-22' },
      rows: 3,
      role: 'finance',
    });
  });

  it('when refunds, a converted payment and a won dispute all match, then nothing is reported', async () => {
    const day = T0 + 86_400 * 6; // 2026-11-24
    const { p, chargeId } = await contribution(4000, day, { settle: { currency: 'usd', rate: 1.1 } });
    fake.refund({
      charge: chargeId,
      amount: 1500,
      created: day + 100,
      settle: { currency: 'usd', rate: 1.1 },
    });
    await send('charge.refunded', charge(p, { amountRefunded: 1500, kind: 'one_time' }), day + 100);
    const disputed = dispute(p, 'needs_response');
    fake.dispute({
      id: disputed.id,
      charge: chargeId,
      created: day + 200,
      won: day + 300,
      settle: { currency: 'usd', rate: 1.1 },
    });
    await send('charge.dispute.created', disputed, day + 200);
    await send('charge.dispute.closed', dispute(p, 'won'), day + 300);

    const body = await reconcile('2026-11-24', '2026-11-24');
    expect(body).toMatchObject({
      clean: true,
      matched: 4,
      missingOurs: [],
      missingStripe: [],
      amountDifferences: [],
    });
  });

  it('when Stripe books a delayed payment days after we recorded it, then both periods reconcile clean', async () => {
    const recorded = T0 + 86_400 * 8; // 2026-11-26
    const booked = recorded + 86_400 * 3; // 2026-11-29
    const p = purchase({ amount: 1800, currency: 'eur' });
    fake.charge({
      id: `ch_${p.paymentIntent}`,
      paymentIntent: p.paymentIntent,
      amount: 1800,
      currency: 'eur',
      created: booked,
    });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), recorded);

    for (const day of ['2026-11-26', '2026-11-29']) {
      const body = await reconcile(day, day);
      expect([day, body]).toMatchObject([
        day,
        { clean: true, matched: 1, missingOurs: [], missingStripe: [] },
      ]);
    }
  });

  it("when one entry's Stripe lookup fails, then that entry is marked unchecked and the rest of the period is reconciled", async () => {
    const day = T0 + 86_400 * 6; // 2026-11-24
    const first = await contribution(1200, day);
    const p = purchase({ amount: 3400, currency: 'eur' });
    fake.charge({
      id: `ch_${p.paymentIntent}`,
      paymentIntent: p.paymentIntent,
      amount: 3400,
      currency: 'eur',
      created: day + 60,
    });
    // Stripe fails every lookup of this one payment, from the moment it is recorded.
    fake.fail(`/v1/payment_intents/${p.paymentIntent}`);
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), day + 60);
    const differing = await contribution(2500, day + 120, { stripeAmount: 2600 });

    const body = await reconcile('2026-11-24', '2026-11-24');
    expect(body).toMatchObject({
      clean: false,
      matched: 1,
      missingStripe: [],
      amountDifferences: [{ entryId: differing.p.paymentIntent, ours: 2500, stripe: 2600 }],
      unchecked: [
        {
          what: 'settlement',
          reference: p.paymentIntent,
          error: 'StripeAPIError: An unknown error occurred (fake).',
        },
      ],
    });
    // Its charge has no settled entry to match, so it shows on Stripe's side until a run can settle it.
    expect(body.missingOurs.map((m) => m.source)).toContain(`ch_${p.paymentIntent}`);
    expect(first.balanceTransaction.id).toMatch(/^txn_/);
  });

  it('when Stripe fails to list the balance transactions, then entries already settled are still compared one by one and the rest is marked unchecked', async () => {
    const day = T0 + 86_400 * 7; // 2026-11-25
    const settled = await contribution(1500, day);
    const unsettled = purchase({ amount: 700, currency: 'eur' }); // Stripe never booked it
    await send('checkout.session.completed', checkoutSession(unsettled, { kind: 'one_time' }), day + 30);
    const heal = fake.fail('/v1/balance_transactions');
    const res = await fetch(`${app.url}/reports/reconciliation?from=2026-11-25&to=2026-11-25`, {
      headers: finance,
    }).finally(heal);
    expect(res.status).toBe(200);
    const body = reconciliationBody.parse(await res.json());
    expect(body).toMatchObject({
      clean: false,
      matched: 1,
      missingOurs: [],
      missingStripe: [],
      amountDifferences: [],
      unchecked: [
        {
          what: 'balance_transactions',
          reference: 'list',
          error: 'StripeAPIError: An unknown error occurred (fake).',
        },
        {
          what: 'balance_transactions',
          reference: unsettled.paymentIntent,
          error: 'not found in the part of the list Stripe answered',
        },
      ],
    });
    expect(settled.balanceTransaction.id).toMatch(/^txn_/);
  });

  it('when the period is malformed, or payments are not configured, then it answers 422 or 503', async () => {
    const bad = await fetch(`${app.url}/reports/reconciliation?from=yesterday&to=2026-11-22`, {
      headers: finance,
    });
    expect(bad.status).toBe(422);
    expect((await bad.json()).error.code).toBe('validation_failed');
    const unpaid = await startTestApp({ db: app.deps.db, deps: { clock, stripe: null } });
    try {
      const res = await fetch(`${unpaid.url}/reports/reconciliation?from=2026-11-22&to=2026-11-22`, {
        headers: finance,
      });
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe('payments_not_configured');
    } finally {
      await unpaid.close();
    }
  });
});

describe("the Stripe calls behind settlement and reconciliation, checked against Stripe's API (stripe-mock)", () => {
  it('when entries are settled and a period reconciled, then every request is one Stripe accepts, expansions included', async () => {
    const recorder = await startStripeRecorder();
    const mocked = await startTestApp({
      db: app.deps.db,
      deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
    });
    try {
      const p = purchase({ amount: 900, currency: 'usd' });
      const post = async (type: string, object: Record<string, unknown>) =>
        expect((await postEvent(mocked.url, stripeEvent(type, object))).status).toBe(200);
      await post('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
      await post('checkout.session.completed', checkoutSession(p));
      await post('customer.subscription.created', subscription(p, 'active'));
      await post('invoice.paid', invoice(p));
      await post('charge.refunded', charge(p, { amountRefunded: 300, kind: 'one_time' }));
      await post('charge.dispute.created', dispute(p, 'needs_response'));
      const res = await fetch(`${mocked.url}/reports/reconciliation?from=2026-11-18&to=2026-11-18`, {
        headers: finance,
      });
      expect(res.status).toBe(200);

      const calls = recorder.requests.map(
        (r) => `${r.method} ${r.path.replace(/\/(pi|ch|dp|txn)_\w+$/, '/$1_…')}`,
      );
      expect(new Set(calls)).toEqual(
        new Set([
          'GET /v1/payment_intents/pi_…',
          'GET /v1/invoice_payments',
          'GET /v1/refunds',
          'GET /v1/disputes/dp_…',
          'GET /v1/balance_transactions',
          // stripe-mock's fixtures settle entries with transactions outside the listed window
          'GET /v1/balance_transactions/txn_…',
          // stripe-mock's invoice payment names its own fixture intent or charge
          ...calls.filter((c) => c.startsWith('GET /v1/charges/') || c === 'GET /v1/payment_intents/pi_…'),
        ]),
      );
      expect(recorder.requests.filter((r) => r.status !== 200)).toEqual([]);
      expect(recorder.requests.find((r) => r.path.startsWith('/v1/payment_intents/'))?.params).toMatchObject({
        'expand[0]': 'latest_charge.balance_transaction',
      });
      expect(recorder.requests.find((r) => r.path === '/v1/balance_transactions')?.params).toMatchObject({
        'created[gte]': String(Date.parse('2026-11-17T00:00:00Z') / 1000),
        'created[lt]': String(Date.parse('2026-11-20T00:00:00Z') / 1000),
        'expand[0]': 'data.source',
        limit: '100',
      });
    } finally {
      await mocked.close();
      await recorder.close();
    }
  });
});
