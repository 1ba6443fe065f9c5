import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giftModel } from '../../src/gifts/gift.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import {
  checkoutSession,
  invoice,
  invoicePayments,
  paidGiftSession,
  postEvent,
  purchase,
  stripeEvent,
  T0,
} from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Radar's early fraud warning: the issuer reported a payment as fraud, and most such payments become
// disputes (with a fee). It moves no money, so nothing is booked. With EARLY_FRAUD_WARNING_REFUNDS the
// service refunds what a refund cannot hurt (an unredeemed gift, a one-time contribution) first.

const clock = manualClock(new Date((T0 + 3600) * 1000));
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
let refunding: TestApp;
let logging: TestApp;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  const stripe = createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection);
  refunding = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC', EARLY_FRAUD_WARNING_REFUNDS: 'true' }),
    deps: { clock, stripe },
  });
  logging = await startTestApp({ config: testConfig({ TIME_ZONE: 'UTC' }), deps: { clock, stripe } });
});
afterAll(async () => {
  await refunding.close();
  await logging.close();
  await recorder.close();
});

let seq = 0;
const warning = (paymentIntent: string) => ({
  id: `issfr_test${++seq}`,
  object: 'radar.early_fraud_warning',
  actionable: true,
  charge: `ch_${paymentIntent}`,
  created: T0 + 600,
  fraud_type: 'made_with_stolen_card',
  livemode: false,
  payment_intent: paymentIntent,
});
async function send(app: TestApp, type: string, object: Record<string, unknown>, created = T0) {
  const event = stripeEvent(type, object, created);
  expect((await postEvent(app.url, event)).status).toBe(200);
  return event;
}
const refundsFor = (warningId: string) =>
  recorder.requests.filter(
    (r) => r.method === 'POST' && r.path === '/v1/refunds' && r.idempotencyKey?.endsWith(warningId),
  );

async function oneTime(app: TestApp) {
  const p = purchase({ amount: 2500, currency: 'eur' });
  await send(app, 'checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
  return p;
}

async function paidGift(app: TestApp) {
  const res = await fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.0.${++seq}` },
    body: JSON.stringify({
      purchaserName: 'Olena',
      purchaserEmail: `buyer${seq}@example.com`,
      recipientName: 'Taras',
      recipientEmail: `to${seq}@example.com`,
      durationMonths: 12,
      currency: 'eur',
      deliverOn: '2026-12-24',
    }),
  });
  expect(res.status).toBe(201);
  const { giftId } = (await res.json()) as { giftId: string };
  await send(app, 'checkout.session.completed', paidGiftSession(giftId));
  return giftId;
}

describe('early fraud warnings', () => {
  it('when a one-time contribution is warned about and refunds are on, then Stripe is asked once, keyed by the warning, and nothing is booked until the refund arrives', async () => {
    const p = await oneTime(refunding);
    const w = warning(p.paymentIntent);
    const event = await send(refunding, 'radar.early_fraud_warning.created', w, T0 + 600);
    expect((await postEvent(refunding.url, event)).status).toBe(200); // redelivered
    const asked = refundsFor(w.id);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({
      idempotencyKey: `early-fraud-warning:${w.id}`,
      params: {
        charge: `ch_${p.paymentIntent}`,
        reason: 'fraudulent',
        'metadata[early_fraud_warning]': w.id,
      },
    });
    const ledger = await ledgerModel(refunding.deps.db).find({ reverses: p.paymentIntent }).lean();
    expect(ledger).toEqual([]);
  });

  it('when an unredeemed gift is warned about and refunds are on, then it is refunded through Stripe', async () => {
    const giftId = await paidGift(refunding);
    const w = warning(`pi_gift_${giftId}`);
    await send(refunding, 'radar.early_fraud_warning.created', w, T0 + 600);
    expect(refundsFor(w.id)).toHaveLength(1);
  });

  it('when a redeemed gift or a subscription payment is warned about, then nothing is refunded automatically', async () => {
    const giftId = await paidGift(refunding);
    await giftModel(refunding.deps.db).updateOne({ _id: giftId }, { $set: { status: 'redeemed' } });
    const redeemed = warning(`pi_gift_${giftId}`);
    await send(refunding, 'radar.early_fraud_warning.created', redeemed, T0 + 600);

    const p = purchase({ amount: 900, currency: 'eur' });
    await send(refunding, 'checkout.session.completed', checkoutSession(p));
    const paidInvoice = {
      ...invoice(p, { billingReason: 'subscription_create' }),
      payments: invoicePayments(p),
    };
    await send(refunding, 'invoice.paid', paidInvoice, T0 + 2);
    const subscription = warning(p.paymentIntent);
    await send(refunding, 'radar.early_fraud_warning.created', subscription, T0 + 600);

    expect(refundsFor(redeemed.id)).toEqual([]);
    expect(refundsFor(subscription.id)).toEqual([]);
  });

  it('when refunds are off (the default), then nothing is refunded or booked (staff read it in the log)', async () => {
    const p = await oneTime(logging);
    const w = warning(p.paymentIntent);
    await send(logging, 'radar.early_fraud_warning.created', w, T0 + 600);
    expect(refundsFor(w.id)).toEqual([]);
    expect(await ledgerModel(logging.deps.db).countDocuments({ reverses: p.paymentIntent })).toBe(0);
  });
});
