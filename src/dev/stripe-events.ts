import { STRIPE_API_VERSION } from '../infra/stripe.js';
import { METADATA_APP } from '../memberships/checkout.service.js';

// Stripe events as Stripe sends them (the pinned API version, STRIPE_API_VERSION), with only the fields our handlers
// read. The local checkout (development without Stripe) sends these through the real
// /webhooks/stripe, and the tests build theirs from the same functions, so both exercise exactly
// the shapes the handlers are written against.

export interface StripeEventShape {
  id: string;
  type: string;
  created: number;
  object: Record<string, unknown>;
}

export function stripeEvent(type: string, object: Record<string, unknown>, created: number, id: string) {
  return { id, type, created, object } satisfies StripeEventShape;
}

/** The exact bytes Stripe posts (what the signature covers). */
export function serialize(event: StripeEventShape): string {
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

/** One reader's purchase: the Stripe ids it creates, and when (Stripe's seconds). */
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
  /** When it was paid, in Stripe's seconds. */
  at: number;
  /** The name the reader typed at Checkout. */
  name?: string;
}

const DAY = 86_400;
const periodEnd = (p: Purchase) => p.at + (p.interval === 'year' ? 365 : 30) * DAY;

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
    paymentStatus?: 'paid' | 'unpaid' | 'no_payment_required';
    /** The session's own metadata (null: none; unset: what our checkout would have set). */
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
    customer_details: { email: p.email, name: p.name ?? null },
    subscription: kind === 'membership' ? p.subscription : null,
    payment_intent: kind === 'one_time' ? p.paymentIntent : null,
    metadata: options.metadata === undefined ? ourMetadata(p, kind) : options.metadata,
    created: p.at,
  };
}

export function subscription(
  p: Purchase,
  status: string,
  options: { cancelAtPeriodEnd?: boolean; metadata?: Record<string, string> } = {},
) {
  return {
    id: p.subscription,
    object: 'subscription',
    customer: p.customer,
    status,
    cancel_at_period_end: options.cancelAtPeriodEnd ?? false,
    metadata: options.metadata ?? ourMetadata(p, 'membership'),
    items: {
      object: 'list',
      data: [
        {
          id: `si_${p.subscription}`,
          current_period_start: p.at,
          current_period_end: periodEnd(p),
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

export function invoice(
  p: Purchase,
  options: {
    id?: string;
    paid?: boolean;
    periodEnd?: number;
    billingReason?: 'subscription_create' | 'subscription_cycle';
    metadata?: Record<string, string>;
  } = {},
) {
  return {
    id: options.id ?? `in_${p.subscription}`,
    object: 'invoice',
    customer: p.customer,
    customer_email: p.email,
    customer_name: p.name ?? null,
    amount_paid: options.paid === false ? 0 : p.amount,
    amount_due: p.amount,
    currency: p.currency,
    status: options.paid === false ? 'open' : 'paid',
    billing_reason: options.billingReason ?? 'subscription_cycle',
    status_transitions: { paid_at: options.paid === false ? null : p.at + 5 },
    parent: {
      type: 'subscription_details',
      subscription_details: {
        subscription: p.subscription,
        metadata: options.metadata ?? ourMetadata(p, 'membership'),
      },
    },
    lines: { object: 'list', data: [{ period: { start: p.at, end: options.periodEnd ?? periodEnd(p) } }] },
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

/**
 * A dispute as its events carry it. `balance_transactions` is what Stripe moved: nothing for an
 * inquiry (`warning_*`), the withdrawal (amount and a 15.00 dispute fee) for a chargeback, and the
 * reinstatement too once won. `at` dates them (Stripe's seconds).
 */
export function dispute(
  p: Purchase,
  status: string,
  id = `dp_${p.paymentIntent}`,
  options: { at?: number; reinstatedAt?: number; reason?: string } = {},
) {
  const moved = (sign: 1 | -1, created: number, suffix: string) => ({
    id: `txn_${id}_${suffix}`,
    object: 'balance_transaction',
    amount: sign * p.amount,
    currency: p.currency,
    created,
    exchange_rate: null,
    fee: sign * -1500,
    fee_details: [
      { amount: sign * -1500, currency: p.currency, description: 'Dispute fee', type: 'stripe_fee' },
    ],
    net: sign * p.amount + sign * 1500,
    reporting_category: sign < 0 ? 'dispute' : 'dispute_reversal',
    source: id,
    status: 'pending',
    type: 'adjustment',
  });
  const at = options.at ?? p.at;
  const inquiry = status.startsWith('warning_');
  return {
    id,
    object: 'dispute',
    amount: p.amount,
    currency: p.currency,
    charge: `ch_${p.paymentIntent}`,
    payment_intent: p.paymentIntent,
    status,
    reason: options.reason ?? 'fraudulent',
    balance_transactions: inquiry
      ? []
      : [
          moved(-1, at, 'withdrawn'),
          ...(status === 'won' ? [moved(1, options.reinstatedAt ?? at, 'reinstated')] : []),
        ],
  };
}
