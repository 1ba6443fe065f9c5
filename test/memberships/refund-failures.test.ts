import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { emailModels } from '../../src/email/email.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { type LedgerEntry, ledgerModel } from '../../src/ledger/ledger.model.js';
import { reconciliationBody } from '../../src/reports/reports.docs.js';
import { deep } from '../support/depth.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import {
  charge,
  checkoutSession,
  invoice,
  invoicePayments,
  outcomeOf,
  postEvent,
  purchase,
  replayOf,
  settleStripeEvents,
  stripeEvent,
  subscription,
  T0,
  type TestEvent,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// A refund that fails after it was made (an expired card) puts the money back in the Stripe
// balance; the newsroom then re-issues a smaller one. The events come in any order, twice; the
// ledger must say what Stripe's balance transactions say, to the cent (docs/adr/0013-failed-refunds.md).

let fake: FakeStripe;
let app: TestApp;
let finance: Record<string, string>;
let campaign: Campaign;
const clock = manualClock(new Date((T0 + 3600) * 1000));

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection) },
  });
  finance = { authorization: (await staffToken(app.url, app.deps.db, 'finance')).authorization };
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'refund-failures',
      title: 'Refund failures',
      goal: 1000,
      startsAt: new Date((T0 - 86_400) * 1000),
      endsAt: new Date((T0 + 30 * 86_400) * 1000),
      timeZone: 'UTC',
      counts: { gifts: true, oneTime: true },
    })
  ).toObject();
});
afterAll(async () => {
  await app?.close();
  await fake?.close();
});

const entriesOf = (chargeId: string) => ledgerModel(app.deps.db).find({ chargeId }).lean<LedgerEntry[]>();
const sumOf = (entries: LedgerEntry[], kind: string) =>
  entries.filter((e) => e.kind === kind).reduce((sum, e) => sum + e.amount, 0);

async function reconcile() {
  const res = await fetch(`${app.url}/reports/reconciliation?from=2026-11-17&to=2026-11-20`, {
    headers: finance,
  });
  expect(res.status).toBe(200);
  return reconciliationBody.parse(await res.json());
}

/**
 * A one-time contribution of 50.00 paid at T0 (counted by the drive), refunded in full at +100, the
 * refund failing at +200 and 30.00 refunded again at +300: Stripe's account holds those, and the
 * events that tell of them are returned (not sent).
 */
async function paidThenRefundFailedThenReissued() {
  const p = purchase({ amount: 5000, currency: 'eur', at: T0 });
  const chargeId = `ch_${p.paymentIntent}`;
  fake.charge({ id: chargeId, paymentIntent: p.paymentIntent, amount: 5000, currency: 'eur', created: T0 });
  expect(
    (
      await postEvent(
        app.url,
        stripeEvent('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), T0),
      )
    ).status,
  ).toBe(200);
  const first = fake.refund({ charge: chargeId, amount: 5000, created: T0 + 100 });
  const { refund: failed } = fake.failRefund(first.refundId, { created: T0 + 200 });
  fake.refund({ charge: chargeId, amount: 3000, created: T0 + 300 });
  const refundObject = { ...failed, object: 'refund', payment_intent: p.paymentIntent };
  const events: TestEvent[] = [
    stripeEvent('charge.refunded', charge(p, { amountRefunded: 5000, kind: 'one_time' }), T0 + 100),
    stripeEvent('refund.failed', refundObject, T0 + 200),
    stripeEvent('charge.refund.updated', refundObject, T0 + 200),
    stripeEvent('charge.refunded', charge(p, { amountRefunded: 3000, kind: 'one_time' }), T0 + 300),
  ];
  return { p, chargeId, refundId: first.refundId, events };
}

describe('a refund that fails, then a smaller one', () => {
  it('when a refund fails and a smaller one is re-issued, in any order and twice over, then the ledger nets to the re-issued refund, Stripe agrees to the cent and the drive keeps the contribution taken back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(), { minLength: 4, maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
        async (order, again) => {
          const { p, chargeId, refundId, events } = await paidThenRefundFailedThenReissued();
          const sent = [...events, ...again.map((i) => events[i]!)];
          // Shuffled: each event takes its place from the drawn numbers.
          const keyed = sent.map((event, i) => ({ event, key: order[i % order.length]! * 16 + i }));
          keyed.sort((a, b) => a.key - b.key);
          for (const { event } of keyed) expect((await postEvent(app.url, event)).status).toBe(200);
          await settleStripeEvents(app);

          const entries = await entriesOf(chargeId);
          expect(sumOf(entries, 'refund')).toBe(-8000); // both refunds left the balance
          expect(entries.find((e) => e._id === `refund_failure:${refundId}`)?.amount).toBe(5000);
          expect(sumOf(entries, 'refund') + sumOf(entries, 'refund_failure')).toBe(-3000); // the reader's
          // The reader asked for their money: the failed refund does not make them count again.
          const counted = await campaignModels(app.deps.db).Contribution.exists({
            _id: `${campaign._id}:one_time:${p.paymentIntent}`,
          });
          expect(counted).toBeTruthy();
          const revoked = await campaignModels(app.deps.db).Revocation.exists({
            _id: `${campaign._id}:one_time:${p.paymentIntent}`,
          });
          expect(revoked).toBeTruthy();
          const alerts = await emailModels(app.deps.db)
            .EmailJob.find({ template: 'refund-failed', 'data.refundId': refundId })
            .lean();
          expect(alerts.map((a) => a.to.email)).toEqual(['finance@newsroom.example']);
        },
      ),
      { numRuns: deep(6) },
    );
    const report = await reconcile();
    expect(report.missingOurs).toEqual([]);
    expect(report.missingStripe).toEqual([]);
    expect(report.amountDifferences).toEqual([]);
    expect(report.otherActivity).toEqual([]);
    expect(await countOf(app.deps.db, campaign)).toBe(0);
  }, 120_000);
});

describe('refunds of charges that are not ours (another app on the same Stripe account)', () => {
  const DAY = 86_400;
  /** A charge no payment of ours stands for, refunded; returns the event's outcome once applied. */
  async function refundOfUnknownCharge(options: {
    metadata?: Record<string, string>;
    customer?: string | null;
    created: number;
  }) {
    const p = purchase({ amount: 2500, currency: 'eur' });
    const object = {
      ...charge(p, { amountRefunded: 2500 }),
      metadata: options.metadata ?? {},
      customer: options.customer === undefined ? p.customer : options.customer,
      created: options.created,
    };
    const event = stripeEvent('charge.refunded', object, T0 + 1000);
    expect((await postEvent(app.url, event)).status).toBe(200);
    return { p, event, chargeId: object.id };
  }

  it('when another app’s tagged charge is refunded, then the event is ignored at once and the ledger is untouched', async () => {
    const { event, chargeId } = await refundOfUnknownCharge({ metadata: { app: 'bookshop' }, created: T0 });
    expect(await outcomeOf(app.url, event.id)).toBe('ignored');
    expect(await entriesOf(chargeId)).toEqual([]);
  });

  it('when an untagged charge without a customer is refunded, then it is ignored at once', async () => {
    const { event } = await refundOfUnknownCharge({ customer: null, created: T0 });
    expect(await outcomeOf(app.url, event.id)).toBe('ignored');
  });

  it('when an untagged charge of a customer we do not know, made days ago, is refunded, then it is ignored, not retried until it fails', async () => {
    const { event } = await refundOfUnknownCharge({ created: T0 - 3 * DAY });
    expect(await outcomeOf(app.url, event.id)).toBe('ignored');
  });

  it('when a refund of another app fails, days after it was made, then the failure is ignored', async () => {
    const refund = {
      id: `re_other_${Date.now()}`,
      object: 'refund',
      amount: 700,
      currency: 'eur',
      charge: `ch_other_${Date.now()}`,
      payment_intent: null,
      created: T0 - 3 * DAY,
      status: 'failed',
      failure_reason: 'lost_or_stolen_card',
      metadata: {},
    };
    const event = stripeEvent('refund.failed', refund, T0 + 1000);
    expect((await postEvent(app.url, event)).status).toBe(200);
    expect(await outcomeOf(app.url, event.id)).toBe('ignored');
  });

  it('when our subscriber’s fresh charge is refunded before any of their payment events, then it waits and is recorded once the payment arrives', async () => {
    const p = purchase({ amount: 1200, currency: 'eur', at: T0 + 2000 });
    const refunded = stripeEvent(
      'charge.refunded',
      { ...charge(p, { amountRefunded: 1200 }), created: T0 + 2000 },
      T0 + 2100,
    );
    expect((await postEvent(app.url, refunded)).status).toBe(200);
    expect(await outcomeOf(app.url, refunded.id)).toBe('received'); // ours, its payment not recorded yet
    await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p), T0 + 2000));
    await postEvent(
      app.url,
      stripeEvent('customer.subscription.created', subscription(p, 'active'), T0 + 2000),
    );
    await postEvent(
      app.url,
      stripeEvent(
        'invoice.paid',
        {
          ...invoice(p),
          payments: invoicePayments(p),
        },
        T0 + 2000,
      ),
    );
    await settleStripeEvents(app);
    expect(await outcomeOf(app.url, refunded.id)).toBe('applied');
    expect(sumOf(await entriesOf(`ch_${p.paymentIntent}`), 'refund')).toBe(-1200);
  });

  it('when every stored event is replayed, then none of these is reported (stripe:replay exits 0 on a shared account)', async () => {
    const report = await replayOf(app);
    expect(report.differences).toEqual([]);
  });
});
