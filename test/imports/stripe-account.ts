import type { FakeStripe } from '../support/fake-stripe.js';

// A newsroom's Stripe account from before this service: customers and subscriptions made by
// its older forms (no metadata of ours), paid invoices with their charges, a one-time donor, a
// refund already made, one subscription that is ours, and one customer without an email.

export const SINCE = new Date('2026-10-01T00:00:00Z');
const OCT = 1_790_900_000; // 2026-10-02
const YEAR = 365 * 86_400;

export function plantAccount(stripe: FakeStripe) {
  const customer = (id: string, email: string | null, created: number) =>
    stripe.put({ id, object: 'customer', email, name: email ? `Reader ${id.slice(-3)}` : null, created });
  const subscription = (
    id: string,
    customerId: string,
    status: string,
    created: number,
    options: { amount?: number; metadata?: Record<string, string>; endedAt?: number } = {},
  ) =>
    stripe.put({
      id,
      object: 'subscription',
      customer: customerId,
      status,
      created,
      start_date: created,
      ended_at: options.endedAt ?? null,
      cancel_at_period_end: false,
      metadata: options.metadata ?? {},
      items: {
        object: 'list',
        data: [
          {
            id: `si_${id}`,
            quantity: 1,
            current_period_end: 1_796_000_000,
            price: { unit_amount: options.amount ?? 500, currency: 'eur', recurring: { interval: 'month' } },
          },
        ],
      },
    });
  const paidInvoice = (
    id: string,
    sub: string,
    customerId: string,
    email: string,
    created: number,
    n: string,
  ) => {
    stripe.put({
      id,
      object: 'invoice',
      customer: customerId,
      customer_email: email,
      status: 'paid',
      amount_paid: 500,
      amount_due: 500,
      currency: 'eur',
      created,
      billing_reason: 'subscription_cycle',
      status_transitions: { paid_at: created + 60 },
      parent: { type: 'subscription_details', subscription_details: { subscription: sub, metadata: {} } },
      payments: {
        object: 'list',
        data: [{ id: `inpay_${n}`, payment: { type: 'payment_intent', payment_intent: `pi_${n}` } }],
      },
    });
    stripe.put({
      id: `ch_${n}`,
      object: 'charge',
      amount: 500,
      amount_refunded: 0,
      refunded: false,
      currency: 'eur',
      created: created + 60,
      customer: customerId,
      payment_intent: `pi_${n}`,
      status: 'succeeded',
      paid: true,
      metadata: {},
      billing_details: { email },
    });
  };

  const readers: string[] = [];
  for (let i = 1; i <= 12; i++) {
    const n = `A${String(i).padStart(2, '0')}`;
    const email = `adopted.${n.toLowerCase()}@example.com`;
    readers.push(email);
    const created = 1_610_000_000 + i * 10 * 86_400; // early 2021, ten days apart
    customer(`cus_${n}`, email, created);
    const status = i === 5 ? 'past_due' : i === 12 ? 'canceled' : 'active';
    subscription(`sub_${n}`, `cus_${n}`, status, created, i === 12 ? { endedAt: 1_700_000_000 } : {});
    if (status !== 'canceled') paidInvoice(`in_${n}_oct`, `sub_${n}`, `cus_${n}`, email, OCT + i * 3600, n);
  }
  // Before the chosen period: not money this import records.
  paidInvoice('in_A01_2025', 'sub_A01', 'cus_A01', readers[0]!, OCT - YEAR, 'A01old');
  // A reader who gave up one subscription long ago, and one who pays twice.
  subscription('sub_A03old', 'cus_A03', 'canceled', 1_580_000_000, { endedAt: 1_600_000_000 });
  subscription('sub_A06b', 'cus_A06', 'active', 1_650_000_000, { amount: 1500 });
  // A refund made before the import.
  stripe.put({ ...stripe.get('ch_A02')!, amount_refunded: 200 });
  stripe.refund({ charge: 'ch_A02', amount: 200, created: OCT + 86_400 });
  // A one-time donor (no subscription): their money, not a member.
  customer('cus_DONOR', 'donor@example.com', 1_700_000_000);
  stripe.put({
    id: 'ch_DONOR',
    object: 'charge',
    amount: 2500,
    amount_refunded: 0,
    refunded: false,
    currency: 'eur',
    created: OCT + 5 * 86_400,
    customer: 'cus_DONOR',
    payment_intent: 'pi_DONOR',
    status: 'succeeded',
    paid: true,
    metadata: {},
    billing_details: { email: 'donor@example.com' },
  });
  // Ours already (made by this service's checkout): not adopted.
  customer('cus_OURS', 'ours@example.com', 1_790_000_000);
  subscription('sub_OURS', 'cus_OURS', 'active', 1_790_000_000, {
    metadata: { app: 'membership-drive', kind: 'membership', plan: 'supporter', interval: 'month' },
  });
  // No email: refused, reported.
  customer('cus_NOEMAIL', null, 1_620_000_000);
  subscription('sub_NOEMAIL', 'cus_NOEMAIL', 'active', 1_620_000_000);
  return { readers };
}
