import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { receiptOf } from '../../src/campaigns/drive-log/log.service.js';
import { rebuildCampaignCounts } from '../../src/campaigns/rebuild.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { type LedgerEntry, ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { reconciliationBody, revenueBody } from '../../src/reports/reports.docs.js';
import { supporterStatements } from '../../src/reports/statement.report.js';
import { deep } from '../support/depth.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import {
  checkoutSession,
  invoice,
  type Purchase,
  postEvent,
  purchase,
  stripeEvent,
  T0,
  type TestEvent,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Invoices Stripe marks paid with no charge behind them (issue 34, item 3): a trial's $0 invoice,
// a 100 % promotion code, an invoice paid out of band. Each sequence is delivered through the
// signed webhook in a shuffled order with duplicates, then the ledger, the drive's count (live,
// rebuilt and logged), the revenue report and the reconciliation are checked to the cent.

const DAY = 86_400;
let fake: FakeStripe;
let app: TestApp;
let finance: Record<string, string>;
const clock = manualClock(new Date((T0 + 40 * DAY) * 1000));
let joinDrive: Campaign; // running when the trial starts
let paymentDrive: Campaign; // running when the trial's first real payment arrives

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

async function reset() {
  fake.reset();
  await Promise.all(
    [
      'members',
      'subscriptions',
      'ledger',
      'payment_links',
      'settlement_due',
      'stripe_events',
      'email_jobs',
      'campaigns',
      'campaign_contributions',
      'campaign_revocations',
    ].map((c) => app.deps.db.collection(c).deleteMany({})),
  );
  const { Campaign } = campaignModels(app.deps.db);
  const drive = (slug: string, from: number, to: number) =>
    Campaign.create({
      slug,
      title: slug,
      goal: 100,
      startsAt: new Date(from * 1000),
      endsAt: new Date(to * 1000),
      timeZone: 'UTC',
      startingOffset: 0,
    }).then((c) => c.toObject<Campaign>());
  joinDrive = await drive(`join-${Date.now()}`, T0 - DAY, T0 + 7 * DAY);
  paymentDrive = await drive(`pay-${Date.now()}`, T0 + 7 * DAY, T0 + 30 * DAY);
}
beforeEach(reset);

const ledger = async () =>
  (await ledgerModel(app.deps.db).find().lean<LedgerEntry[]>()).sort(
    (a, b) => a.kind.localeCompare(b.kind) || a._id.localeCompare(b._id),
  );
const memberOf = (p: Purchase) => membershipModels(app.deps.db).Member.findOne({ email: p.email }).lean();

/** The checkout of a trial or a 100 % promotion code: completed with nothing to pay. */
const freeCheckout = (p: Purchase) => ({
  ...checkoutSession(p),
  payment_status: 'no_payment_required',
  amount_total: 0,
});
/** A $0 invoice (Stripe marks it paid at once; no charge, no PaymentIntent). */
const freeInvoice = (
  p: Purchase,
  billingReason: 'subscription_create' | 'subscription_cycle',
  at: number,
) => ({
  ...invoice(p, { billingReason }),
  amount_paid: 0,
  amount_due: 0,
  status_transitions: { paid_at: at },
});
/** An invoice paid by a card charge Stripe booked (the fake account holds the charge). */
function paidInvoice(p: Purchase, at: number, billingReason: 'subscription_create' | 'subscription_cycle') {
  const paid = { ...invoice(p, { billingReason }), status_transitions: { paid_at: at } };
  fake.charge({ amount: p.amount, currency: p.currency, created: at, invoice: String(paid.id) });
  return paid;
}

/**
 * Delivers `phases` in order (what Stripe cannot send before the earlier phase happened, such as a
 * payment 14 days after the trial began), each phase shuffled; any event may come again later (a
 * retry with the same id, or the same object in a new event).
 */
async function deliver(phases: TestEvent[][], shuffle: (n: number) => number, repeats: number[]) {
  const all = phases.flat();
  for (const phase of phases) {
    const order = [...phase].sort((a, b) => shuffle(all.indexOf(a)) - shuffle(all.indexOf(b)));
    for (const event of order) expect((await postEvent(app.url, event)).status).toBe(200);
  }
  for (const i of repeats) {
    const event = all[i % all.length]!;
    const again = i % 2 === 0 ? event : stripeEvent(event.type, event.object, event.created);
    expect((await postEvent(app.url, again)).status).toBe(200);
  }
}

const order = fc.record({
  shuffle: fc.func(fc.integer()),
  repeats: fc.array(fc.nat(), { maxLength: 4 }),
});

async function reconcile() {
  const res = await fetch(`${app.url}/reports/reconciliation?from=2026-11-01&to=2027-01-01`, {
    headers: finance,
  });
  expect(res.status).toBe(200);
  return reconciliationBody.parse(await res.json());
}
async function revenue() {
  const res = await fetch(`${app.url}/reports/revenue?by=month&from=2026-11&to=2026-12`, {
    headers: finance,
  });
  expect(res.status).toBe(200);
  return revenueBody.parse(await res.json());
}

/** The drive's count live, rebuilt from members and ledger, and in the public drive log. */
async function drive(campaign: Campaign, memberId?: string) {
  const rebuilt = (await rebuildCampaignCounts(app.deps.db)).find((r) => r.slug === campaign.slug)!;
  expect(rebuilt).toMatchObject({ missing: [], extra: [], wronglyRevoked: [], notRevoked: [] });
  expect(rebuilt.recomputed).toBe(rebuilt.live);
  const logged = memberId
    ? Boolean(await receiptOf(app.deps.db, campaign._id, `${campaign._id}:member:${memberId}`))
    : false;
  return { count: await countOf(app.deps.db, campaign), logged };
}

const runs = { numRuns: deep(4), endOnFailure: true };

describe('a trial with a $0 invoice, then the first real payment', () => {
  it('when delivered in any order with duplicates, then the $0 invoice is no revenue, the payment settles, reconciliation is clean and the member counts once, in the drive running when they joined', async () => {
    await fc.assert(
      fc.asyncProperty(order, async ({ shuffle, repeats }) => {
        await reset();
        const p = purchase({ amount: 700, currency: 'eur', at: T0 });
        const trialStart = [
          stripeEvent('checkout.session.completed', freeCheckout(p), T0),
          stripeEvent('invoice.paid', freeInvoice(p, 'subscription_create', T0 + 1), T0 + 1),
        ];
        const firstPayment = paidInvoice(p, T0 + 14 * DAY, 'subscription_cycle');
        await deliver(
          [trialStart, [stripeEvent('invoice.paid', firstPayment, T0 + 14 * DAY)]],
          shuffle,
          repeats,
        );

        const member = await memberOf(p);
        expect(member).toMatchObject({ status: 'active', joinedPaying: false });
        expect((await ledger()).map((e) => [e.kind, e.amount, Boolean(e.settlement)])).toEqual([
          ['free_invoice', 0, false],
          ['subscription_payment', 700, true],
        ]);
        const paid = await ledgerModel(app.deps.db).findById(firstPayment.id).lean<LedgerEntry>();
        expect(paid?.settlement).toMatchObject({ amount: 700, fee: 50, net: 650 });

        expect(await drive(joinDrive, String(member!._id))).toEqual({ count: 1, logged: true });
        expect(await drive(paymentDrive, String(member!._id))).toEqual({ count: 0, logged: false });

        const report = await reconcile();
        expect(report).toMatchObject({ clean: true, matched: 1, missingStripe: [], missingOurs: [] });
        expect((await revenue()).rows).toEqual([
          expect.objectContaining({
            period: '2026-12',
            gross: 700,
            net: 700,
            payments: 1,
            outOfBand: 0,
            unsettled: 0,
          }),
        ]);
      }),
      runs,
    );
  });

  it('when the trial ends without a payment (only $0 invoices), then the member is never counted', async () => {
    const p = purchase({ amount: 700, currency: 'eur', at: T0 });
    await deliver(
      [
        [
          stripeEvent('checkout.session.completed', freeCheckout(p), T0),
          stripeEvent('invoice.paid', freeInvoice(p, 'subscription_create', T0 + 1), T0 + 1),
        ],
      ],
      (n) => n,
      [0, 1],
    );
    const member = await memberOf(p);
    expect(await drive(joinDrive, String(member!._id))).toEqual({ count: 0, logged: false });
  });
});

describe('a 100 % promotion code', () => {
  it('when its $0 invoices are delivered in any order with duplicates, then the ledger holds two free invoices of 0, nothing is revenue or expected in Stripe, and no drive counts the member', async () => {
    await fc.assert(
      fc.asyncProperty(order, async ({ shuffle, repeats }) => {
        await reset();
        const p = purchase({ amount: 500, currency: 'eur', at: T0 });
        await deliver(
          [
            [
              stripeEvent('checkout.session.completed', freeCheckout(p), T0),
              stripeEvent('invoice.paid', freeInvoice(p, 'subscription_create', T0 + 1), T0 + 1),
            ],
            [stripeEvent('invoice.paid', freeInvoice(p, 'subscription_cycle', T0 + 31 * DAY), T0 + 31 * DAY)],
          ],
          shuffle,
          repeats,
        );
        const member = await memberOf(p);
        expect(member?.status).toBe('active');
        expect((await ledger()).map((e) => [e.kind, e.amount])).toEqual([
          ['free_invoice', 0],
          ['free_invoice', 0],
        ]);
        expect(await drive(joinDrive, String(member!._id))).toEqual({ count: 0, logged: false });
        expect(await drive(paymentDrive, String(member!._id))).toEqual({ count: 0, logged: false });
        expect(await reconcile()).toMatchObject({
          clean: true,
          matched: 0,
          missingStripe: [],
          missingOurs: [],
        });
        expect((await revenue()).rows).toEqual([]);
        expect(await app.deps.db.collection('settlement_due').countDocuments()).toBe(0);
      }),
      runs,
    );
  });
});

/** How an invoice says it was paid outside Stripe, at the pinned version and before it. */
const outOfBandSignals = {
  /** Its payments (when the payload includes them): a Payment Record, not a PaymentIntent. */
  paymentRecord: (amount: number) => ({
    payments: {
      object: 'list',
      data: [
        {
          object: 'invoice_payment',
          amount_paid: amount,
          amount_requested: amount,
          status: 'paid',
          payment: { type: 'payment_record', payment_record: 'prec_test_oob' },
        },
      ],
    },
  }),
  /** The amount paid off Stripe (an invoice retrieved with it included). */
  offStripeAmount: (amount: number) => ({ amount_paid_off_stripe: amount }),
  /** The boolean of API versions before 2025-03-31. */
  legacyFlag: () => ({ paid_out_of_band: true }),
};

describe('an invoice paid out of band', () => {
  it('when delivered in any order with duplicates, then it is out-of-band money apart from Stripe revenue, reconciliation is clean and the member counts', async () => {
    await fc.assert(
      fc.asyncProperty(
        order,
        fc.constantFrom(...(Object.keys(outOfBandSignals) as (keyof typeof outOfBandSignals)[])),
        async ({ shuffle, repeats }, signal) => {
          await reset();
          const p = purchase({ amount: 12000, currency: 'eur', interval: 'year', at: T0 });
          const paidByTransfer = {
            ...invoice(p, { billingReason: 'subscription_create' }),
            status_transitions: { paid_at: T0 + 2 },
            ...outOfBandSignals[signal](12000),
          };
          await deliver(
            [
              [
                stripeEvent('checkout.session.completed', freeCheckout(p), T0),
                stripeEvent('invoice.paid', paidByTransfer, T0 + 2),
              ],
            ],
            shuffle,
            repeats,
          );
          const member = await memberOf(p);
          expect((await ledger()).map((e) => [e._id, e.kind, e.amount, Boolean(e.settlement)])).toEqual([
            [paidByTransfer.id, 'out_of_band_payment', 12000, false],
          ]);
          expect(await drive(joinDrive, String(member!._id))).toEqual({ count: 1, logged: true });
          expect(await reconcile()).toMatchObject({ clean: true, matched: 0, missingStripe: [] });
          expect((await revenue()).rows).toEqual([
            expect.objectContaining({ gross: 0, net: 0, payments: 0, outOfBand: 12000, unsettled: 0 }),
          ]);
          const [statement] = await supporterStatements(app.deps.db, 2026);
          expect(statement?.lines).toEqual([
            expect.objectContaining({ currency: 'EUR', payments: 1, gross: 12000, net: 12000 }),
          ]);
        },
      ),
      runs,
    );
  });

  it('when an invoice is paid partly by card and partly out of band, then each part is booked as what it is and the card part settles to the cent', async () => {
    const p = purchase({ amount: 1000, currency: 'eur', at: T0 });
    const split = {
      ...invoice(p, { billingReason: 'subscription_create' }),
      status_transitions: { paid_at: T0 + 2 },
      amount_paid_off_stripe: 400,
    };
    fake.charge({ amount: 600, currency: 'eur', created: T0 + 2, invoice: String(split.id) });
    await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p), T0));
    await postEvent(app.url, stripeEvent('invoice.paid', split, T0 + 2));
    expect((await ledger()).map((e) => [e._id, e.kind, e.amount, e.settlement?.amount])).toEqual([
      [`${split.id}:out_of_band`, 'out_of_band_payment', 400, undefined],
      [split.id, 'subscription_payment', 600, 600],
    ]);
    expect(await reconcile()).toMatchObject({ clean: true, matched: 1 });
    expect((await revenue()).rows).toEqual([expect.objectContaining({ gross: 600, outOfBand: 400 })]);
  });
});
