import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { taxBody } from '../../src/reports/reports.docs.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import {
  charge,
  checkoutSession,
  invoice,
  postEvent,
  purchase,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Tax collected: our ledger says which payments and refunds are ours; Stripe's invoice
// (`total_taxes`, with its tax rates) or Checkout Session (`total_details.breakdown`) says the tax.

let fake: FakeStripe;
let app: TestApp;
let finance: Record<string, string>;
const DAY = 86_400;
const DEC = Date.parse('2026-12-03T12:00:00Z') / 1000;

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
beforeEach(async () => {
  fake.reset();
  await Promise.all(
    ['members', 'subscriptions', 'ledger', 'payment_links', 'refund_steps', 'stripe_events'].map((c) =>
      app.deps.db.collection(c).deleteMany({}),
    ),
  );
});

async function send(type: string, object: Record<string, unknown>, created = T0) {
  const res = await postEvent(app.url, stripeEvent(type, object, created));
  expect(res.status).toBe(200);
}

const rate = (id: string, country: string, jurisdiction: string, percentage: number) => ({
  id,
  object: 'tax_rate',
  country,
  state: null,
  jurisdiction,
  display_name: 'VAT',
  percentage,
  effective_percentage: percentage,
  tax_type: 'vat',
  inclusive: true,
  created: T0,
});

/** A membership whose invoice Stripe taxed (tax-inclusive price), recorded from invoice.paid. */
async function taxedMembership(amount: number, tax: number, rateId: string) {
  const p = purchase({ amount, currency: 'eur' });
  const paid = invoice(p);
  fake.put({
    ...paid,
    id: String(paid.id),
    created: T0,
    total_taxes: [
      {
        amount: tax,
        tax_behavior: 'inclusive',
        tax_rate_details: { tax_rate: rateId },
        taxability_reason: 'standard_rated',
        taxable_amount: amount - tax,
        type: 'tax_rate_details',
      },
    ],
  });
  await send('checkout.session.completed', checkoutSession(p));
  await send('customer.subscription.created', subscription(p, 'active'));
  await send('invoice.paid', paid, T0 + 5);
  return { ...p, invoiceId: String(paid.id) };
}

/** A one-time contribution whose Checkout Session Stripe taxed, with the charge behind it. */
async function taxedContribution(amount: number, tax: number, taxRate: ReturnType<typeof rate> | null) {
  const p = purchase({ amount, currency: 'eur' });
  const session = checkoutSession(p, { kind: 'one_time' });
  fake.put({
    ...session,
    total_details: {
      amount_discount: 0,
      amount_shipping: 0,
      amount_tax: tax,
      breakdown: {
        discounts: [],
        taxes: taxRate
          ? [
              {
                amount: tax,
                rate: taxRate,
                taxability_reason: 'standard_rated',
                taxable_amount: amount - tax,
              },
            ]
          : [],
      },
    },
  });
  const { chargeId } = fake.charge({
    id: `ch_${p.paymentIntent}`,
    paymentIntent: p.paymentIntent,
    amount,
    currency: 'eur',
    created: T0,
  });
  await send('checkout.session.completed', session, T0 + 10);
  return { p, chargeId };
}

it('when taxed memberships and contributions are paid and partly refunded, then tax collected, refunded and net are right to the cent per month, jurisdiction and rate', async () => {
  fake.put(rate('txr_de', 'DE', 'Germany', 19));
  const fr = rate('txr_fr', 'FR', 'France', 20);
  await taxedMembership(1190, 190, 'txr_de');
  const refundedInDecember = await taxedMembership(595, 95, 'txr_de');
  const half = await taxedContribution(600, 100, fr);
  await taxedContribution(1000, 0, null); // an untaxed contribution: no tax line

  // Half of the French contribution refunded in November: half its tax goes back.
  fake.refund({ charge: half.chargeId, amount: 300, created: T0 + DAY });
  await send('charge.refunded', charge(half.p, { amountRefunded: 300, kind: 'one_time' }), T0 + DAY);
  // A German membership invoice refunded in full in December: its tax is netted in December.
  const member = refundedInDecember;
  const chargeId = `ch_${member.paymentIntent}`;
  fake.charge({
    id: chargeId,
    paymentIntent: member.paymentIntent,
    amount: 595,
    currency: 'eur',
    created: T0,
  });
  await send('invoice_payment.paid', {
    id: `inpay_${member.subscription}`,
    object: 'invoice_payment',
    invoice: member.invoiceId,
    status: 'paid',
    payment: { type: 'payment_intent', payment_intent: member.paymentIntent },
  });
  fake.refund({ charge: chargeId, amount: 595, created: DEC });
  await send('charge.refunded', charge(member, { amountRefunded: 595 }), DEC);

  const res = await fetch(`${app.url}/reports/tax?from=2026-11-01&to=2026-12-31`, { headers: finance });
  expect(res.status).toBe(200);
  const body = taxBody.parse(await res.json());
  expect(body.unchecked).toEqual([]);
  const line = { currency: 'eur', state: '', taxType: 'vat' };
  expect(body.lines).toEqual([
    {
      ...line,
      month: '2026-11',
      country: 'DE',
      jurisdiction: 'Germany',
      rate: 19,
      payments: 2,
      taxable: 1000 + 500,
      collected: 190 + 95,
      refunded: 0,
      net: 285,
    },
    {
      ...line,
      month: '2026-11',
      country: 'FR',
      jurisdiction: 'France',
      rate: 20,
      payments: 1,
      taxable: 500 - 250,
      collected: 100,
      refunded: -50,
      net: 50,
    },
    {
      ...line,
      month: '2026-12',
      country: 'DE',
      jurisdiction: 'Germany',
      rate: 19,
      payments: 0,
      taxable: -500,
      collected: 0,
      refunded: -95,
      net: -95,
    },
  ]);

  const csv = await fetch(`${app.url}/reports/tax?from=2026-11-01&to=2026-12-31&format=csv`, {
    headers: finance,
  });
  expect((await csv.text()).trim().split('\n')).toEqual([
    'month,currency,country,state,jurisdiction,taxType,rate,payments,taxable,collected,refunded,net',
    '2026-11,eur,DE,,Germany,vat,19,2,1500,285,0,285',
    '2026-11,eur,FR,,France,vat,20,1,250,100,-50,50',
    '2026-12,eur,DE,,Germany,vat,19,0,-500,0,-95,-95',
  ]);
});

it('when Stripe cannot answer for one invoice, then that payment is listed as unchecked and the rest stands', async () => {
  fake.put(rate('txr_de', 'DE', 'Germany', 19));
  const lost = purchase({ amount: 1190, currency: 'eur' });
  await send('checkout.session.completed', checkoutSession(lost));
  await send('customer.subscription.created', subscription(lost, 'active'));
  const unknown = invoice(lost);
  await send('invoice.paid', unknown, T0 + 5); // not in the fake account: Stripe answers 404
  await taxedMembership(595, 95, 'txr_de');

  const res = await fetch(`${app.url}/reports/tax?from=2026-11-01&to=2026-11-30`, { headers: finance });
  const body = taxBody.parse(await res.json());
  expect(body.unchecked).toMatchObject([{ what: 'invoice', reference: String(unknown.id) }]);
  expect(body.lines).toMatchObject([{ month: '2026-11', country: 'DE', collected: 95, net: 95 }]);
});
