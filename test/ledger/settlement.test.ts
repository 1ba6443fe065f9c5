import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { type LedgerEntry, ledgerModel } from '../../src/ledger/ledger.model.js';
import { recordLedgerEntry } from '../../src/ledger/ledger.service.js';
import { settleUnsettledEntries } from '../../src/ledger/settlement.service.js';
import { reconciliationBody } from '../../src/reports/reports.docs.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import { checkoutSession, invoice, postEvent, purchase, stripeEvent, T0 } from '../support/stripe-events.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// The settlement sweep and invoices paid by several payments (issue 34). Stripe is a scripted
// account (fake-stripe.ts): it holds exactly the charges a test plants.

let fake: FakeStripe;
let app: TestApp;
const clock = manualClock(new Date((T0 + 3600) * 1000));

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection) },
  });
});
afterAll(async () => {
  await app.close();
  await fake.close();
});
beforeEach(async () => {
  fake.reset();
  await Promise.all(
    ['members', 'subscriptions', 'ledger', 'payment_links', 'settlement_due', 'stripe_events'].map((c) =>
      app.deps.db.collection(c).deleteMany({}),
    ),
  );
});

const deps = () => ({ ...app.deps, stripe: app.deps.stripe! });
const ledgerDeps = () => ({ ...app.deps, timeZone: 'UTC' });
const entry = (id: string) => ledgerModel(app.deps.db).findById(id).lean<LedgerEntry>();

describe('the settlement sweep', () => {
  it('when more entries than one sweep takes never settle, then an entry Stripe booked late is still settled by a later sweep', async () => {
    // Invoices Stripe has no payment for (what a $0 invoice used to be): they never settle.
    for (let i = 0; i < 30; i++)
      await recordLedgerEntry(ledgerDeps(), {
        _id: `in_never${String(i).padStart(2, '0')}`,
        kind: 'subscription_payment',
        amount: 500,
        currency: 'eur',
        occurredAt: new Date((T0 - 60 + i) * 1000),
        invoiceId: `in_never${String(i).padStart(2, '0')}`,
      });
    // Paid before them, recorded after them, booked by Stripe only after it was recorded.
    await recordLedgerEntry(ledgerDeps(), {
      _id: 'in_late',
      kind: 'subscription_payment',
      amount: 800,
      currency: 'eur',
      occurredAt: new Date((T0 - 120) * 1000),
      invoiceId: 'in_late',
    });
    expect((await entry('in_late'))?.settlement).toBeUndefined();
    fake.charge({ amount: 800, currency: 'eur', created: T0 - 120, invoice: 'in_late' });

    const sweeps = [];
    for (let i = 0; i < 3; i++) sweeps.push(await settleUnsettledEntries(deps(), { limit: 20 }));
    expect((await entry('in_late'))?.settlement).toMatchObject({ amount: 800, fee: 53, net: 747 });
    expect(sweeps.reduce((n, s) => n + s.settled, 0)).toBe(1);
  });

  it('when a $0 or out-of-band invoice is recorded, then the sweep never asks Stripe about it', async () => {
    for (const kind of ['free_invoice', 'out_of_band_payment'] as const)
      await recordLedgerEntry(ledgerDeps(), {
        _id: `in_${kind}`,
        kind,
        amount: kind === 'free_invoice' ? 0 : 1500,
        currency: 'eur',
        occurredAt: new Date(T0 * 1000),
        invoiceId: `in_${kind}`,
      });
    expect(await settleUnsettledEntries(deps())).toEqual({ settled: 0, unsettled: 0 });
    expect(fake.requests.filter((r) => r.path.includes('in_'))).toEqual([]);
    expect(fake.requests.filter((r) => r.query.get('invoice')?.startsWith('in_'))).toEqual([]);
  });
});

describe('an invoice paid by several payments', () => {
  it('when an invoice is paid by two charges, then its settlement holds both, to the cent, and reconciliation is clean', async () => {
    const p = purchase({ amount: 1000, currency: 'eur' });
    const paid = {
      ...invoice(p, { billingReason: 'subscription_create' }),
      status_transitions: { paid_at: T0 },
    };
    const first = fake.charge({ amount: 300, currency: 'eur', created: T0, invoice: String(paid.id) });
    const rest = fake.charge({ amount: 700, currency: 'eur', created: T0 + 1, invoice: String(paid.id) });
    await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p), T0));
    await postEvent(app.url, stripeEvent('invoice.paid', paid, T0 + 2));

    const settled = (await entry(String(paid.id)))?.settlement;
    expect(settled).toMatchObject({
      amount: 1000,
      fee: 39 + 50, // 2.9 % + 30 of each charge
      net: 1000 - 89,
      currency: 'eur',
    });
    expect([...(settled?.balanceTransactionIds ?? [])].sort()).toEqual(
      [first.balanceTransaction.id, rest.balanceTransaction.id].sort(),
    );
    const finance = await staffToken(app.url, app.deps.db, 'finance');
    const res = await fetch(`${app.url}/reports/reconciliation?from=2026-11-17&to=2026-11-20`, {
      headers: { authorization: finance.authorization },
    });
    expect(reconciliationBody.parse(await res.json())).toMatchObject({
      clean: true,
      matched: 2,
      amountDifferences: [],
      missingOurs: [],
    });
  });
});
