import Stripe from 'stripe';
import { STRIPE_API_VERSION } from '../../src/infra/stripe.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { TEST_ENV } from './test-app.js';

// Stripe events as Stripe sends them (the pinned API version, STRIPE_API_VERSION), signed with the test endpoint secret.

const stripe = new Stripe(TEST_ENV.STRIPE_SECRET_KEY);
let seq = 0;
const nextId = (prefix: string) => `${prefix}_test${Date.now().toString(36)}${(++seq).toString(36)}`;
export const T0 = 1_795_000_000; // 2026-11-18, in Stripe's seconds

export interface TestEvent {
  id: string;
  type: string;
  created: number;
  object: Record<string, unknown>;
}

export function stripeEvent(
  type: string,
  object: Record<string, unknown>,
  created = T0,
  id = nextId('evt'),
): TestEvent {
  return { id, type, created, object };
}

export function serialize(event: TestEvent): string {
  return JSON.stringify({
    id: event.id,
    object: 'event',
    api_version: STRIPE_API_VERSION,
    created: event.created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: event.type,
    data: { object: event.object },
  });
}

export function signedHeaders(payload: string, options: { secret?: string; timestamp?: number } = {}) {
  return {
    'content-type': 'application/json',
    'stripe-signature': stripe.webhooks.generateTestHeaderString({
      payload,
      secret: options.secret ?? TEST_ENV.STRIPE_WEBHOOK_SECRET,
      timestamp: options.timestamp,
    }),
  };
}

export function postEvent(baseUrl: string, event: TestEvent, signal?: AbortSignal) {
  const body = serialize(event);
  return fetch(`${baseUrl}/webhooks/stripe`, { method: 'POST', headers: signedHeaders(body), body, signal });
}

export interface Purchase {
  email: string;
  customer: string;
  subscription: string;
  session: string;
  paymentIntent: string;
  plan: string;
  interval: 'month' | 'year';
  amount: number;
  currency: string;
  campaign?: string;
}

export function purchase(overrides: Partial<Purchase> = {}): Purchase {
  return {
    email: `reader-${++seq}@example.com`,
    customer: nextId('cus'),
    subscription: nextId('sub'),
    session: nextId('cs'),
    paymentIntent: nextId('pi'),
    plan: 'supporter',
    interval: 'month',
    amount: 500,
    currency: 'eur',
    ...overrides,
  };
}

const ourMetadata = (p: Purchase, kind: 'membership' | 'one_time') => ({
  app: METADATA_APP,
  kind,
  plan: kind === 'one_time' ? 'one_time' : p.plan,
  reference: `ref-${p.session}`,
  locale: 'en',
  ...(kind === 'membership' ? { interval: p.interval } : {}),
  ...(p.campaign ? { campaign: p.campaign } : {}),
});

export function checkoutSession(
  p: Purchase,
  options: {
    kind?: 'membership' | 'one_time';
    paymentStatus?: 'paid' | 'unpaid';
    metadata?: Record<string, string> | null;
  } = {},
) {
  const kind = options.kind ?? 'membership';
  return {
    id: p.session,
    object: 'checkout.session',
    mode: kind === 'membership' ? 'subscription' : 'payment',
    status: 'complete',
    payment_status: options.paymentStatus ?? 'paid',
    amount_total: p.amount,
    currency: p.currency,
    customer: p.customer,
    customer_email: p.email,
    customer_details: { email: p.email, name: 'Olena Test' },
    subscription: kind === 'membership' ? p.subscription : null,
    payment_intent: kind === 'one_time' ? p.paymentIntent : null,
    metadata: options.metadata === undefined ? ourMetadata(p, kind) : options.metadata,
    created: T0,
  };
}

export function subscription(p: Purchase, status: string, options: { cancelAtPeriodEnd?: boolean } = {}) {
  return {
    id: p.subscription,
    object: 'subscription',
    customer: p.customer,
    status,
    cancel_at_period_end: options.cancelAtPeriodEnd ?? false,
    metadata: ourMetadata(p, 'membership'),
    items: {
      object: 'list',
      data: [
        {
          id: `si_${p.subscription}`,
          current_period_start: T0,
          current_period_end: T0 + (p.interval === 'year' ? 365 : 30) * 86400,
          price: {
            id: `price_${p.plan}_${p.interval}_${p.currency}`,
            object: 'price',
            // Tiers are sold at their Stripe Price (npm run stripe:setup); custom amounts have none.
            lookup_key: p.plan === 'custom' ? null : `membership:${p.plan}:${p.interval}:${p.currency}`,
            unit_amount: p.amount,
            currency: p.currency,
            recurring: { interval: p.interval },
          },
        },
      ],
    },
  };
}

export function invoice(p: Purchase, options: { id?: string; paid?: boolean; periodEnd?: number } = {}) {
  return {
    id: options.id ?? nextId('in'),
    object: 'invoice',
    customer: p.customer,
    customer_email: p.email,
    customer_name: 'Olena Test',
    amount_paid: options.paid === false ? 0 : p.amount,
    amount_due: p.amount,
    currency: p.currency,
    status: options.paid === false ? 'open' : 'paid',
    billing_reason: 'subscription_cycle',
    status_transitions: { paid_at: options.paid === false ? null : T0 + 5 },
    parent: {
      type: 'subscription_details',
      subscription_details: { subscription: p.subscription, metadata: ourMetadata(p, 'membership') },
    },
    lines: {
      object: 'list',
      data: [
        { period: { start: T0, end: options.periodEnd ?? T0 + (p.interval === 'year' ? 365 : 30) * 86400 } },
      ],
    },
  };
}

export function charge(p: Purchase, options: { id?: string; amountRefunded: number; kind?: 'one_time' }) {
  return {
    id: options.id ?? `ch_${p.paymentIntent}`,
    object: 'charge',
    amount: p.amount,
    amount_refunded: options.amountRefunded,
    refunded: options.amountRefunded === p.amount,
    currency: p.currency,
    customer: p.customer,
    payment_intent: p.paymentIntent,
    metadata: options.kind ? ourMetadata(p, 'one_time') : {},
  };
}

export function dispute(p: Purchase, status: string, id = `dp_${p.paymentIntent}`) {
  return {
    id,
    object: 'dispute',
    amount: p.amount,
    currency: p.currency,
    charge: `ch_${p.paymentIntent}`,
    payment_intent: p.paymentIntent,
    status,
    reason: 'fraudulent',
  };
}
