import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import Stripe from 'stripe';
import type { Clock } from '../infra/clock.js';
import type { CheckoutSessions } from '../memberships/checkout.service.js';
import {
  checkoutSession,
  invoice,
  type Purchase,
  type StripeEventShape,
  serialize,
  stripeEvent,
  subscription,
} from './stripe-events.js';

// Development without a Stripe key (LOCAL_CHECKOUT): creating a Checkout Session stores what we
// would have sent Stripe and answers with a local payment page. "Pay" there produces the events
// Stripe would send for that session, signs them with the endpoint secret and posts them through
// the real /webhooks/stripe, so everything after the payment (members, ledger, campaign count,
// email) runs exactly as with Stripe. The config refuses it in production.

/** What a "Pay" press may stand for. */
export const OUTCOMES = ['paid', 'delayed_then_failed'] as const;
export type Outcome = (typeof OUTCOMES)[number];

type Params = Stripe.Checkout.SessionCreateParams;

export interface LocalSession {
  _id: string;
  mode: 'subscription' | 'payment';
  productName: string;
  amount: number;
  currency: string;
  interval?: 'month' | 'year';
  email?: string;
  customer?: string;
  metadata: Record<string, string>;
  subscriptionMetadata: Record<string, string>;
  trialEnd?: number;
  successUrl: string;
  cancelUrl: string;
  createdAt: Date;
}

const sessions = (db: Connection) => db.collection<LocalSession>('dev_checkout_sessions');

/** Stands in for `stripe.checkout.sessions.create` (the only Stripe call checkout makes). */
export function createLocalCheckout(deps: { db: Connection; clock: Clock; publicBaseUrl: string }) {
  const create = async (params: Params) => {
    const line = params.line_items?.[0]?.price_data;
    if (!line?.unit_amount || !params.success_url || !params.cancel_url)
      throw new Error('local checkout: a session needs one priced line item and both return URLs');
    const session: LocalSession = {
      _id: `cs_local_${randomBytes(12).toString('hex')}`,
      mode: params.mode === 'subscription' ? 'subscription' : 'payment',
      productName: line.product_data?.name ?? 'Payment',
      amount: line.unit_amount,
      currency: line.currency,
      interval: line.recurring?.interval === 'year' ? 'year' : line.recurring ? 'month' : undefined,
      email: params.customer_email,
      customer: params.customer,
      metadata: { ...(params.metadata as Record<string, string>) },
      subscriptionMetadata: { ...(params.subscription_data?.metadata as Record<string, string>) },
      trialEnd: params.subscription_data?.trial_end,
      successUrl: params.success_url,
      cancelUrl: params.cancel_url,
      createdAt: deps.clock.now(),
    };
    await sessions(deps.db).insertOne(session);
    return { id: session._id, url: `${deps.publicBaseUrl}/dev/checkout/${session._id}` };
  };
  return { checkout: { sessions: { create } } } satisfies CheckoutSessions;
}

export const findLocalSession = (db: Connection, id: string) => sessions(db).findOne({ _id: id });

/**
 * The events Stripe sends when this session is paid, in the order our handlers want them first
 * (Stripe's own order varies; the handlers cope, a subscription event before its member answers 500
 * and Stripe retries). Ids derive from the session, so paying twice repeats the same events and
 * the webhook applies them once.
 */
export function eventsForPayment(
  session: LocalSession,
  payer: { email: string; name?: string },
  outcome: Outcome,
  at: number,
): StripeEventShape[] {
  const key = session._id.replace(/^cs_local_/, '');
  const p: Purchase = {
    email: payer.email,
    name: payer.name,
    customer: session.customer ?? `cus_local_${key}`,
    subscription: `sub_local_${key}`,
    session: session._id,
    paymentIntent: `pi_local_${key}`,
    plan: session.metadata.plan ?? 'custom',
    interval: session.interval ?? 'month',
    amount: session.amount,
    currency: session.currency,
    at,
  };
  const event = (n: number, type: string, object: Record<string, unknown>) =>
    stripeEvent(type, object, at, `evt_local_${key}_${n}`);
  const kind = session.mode === 'subscription' ? 'membership' : 'one_time';
  const completed = (paymentStatus: 'paid' | 'unpaid') =>
    checkoutSession(p, { kind, paymentStatus, metadata: session.metadata });

  if (outcome === 'delayed_then_failed') {
    // A delayed method (a bank debit): Checkout completes unpaid, and the payment fails later.
    return [
      event(1, 'checkout.session.completed', completed('unpaid')),
      event(2, 'checkout.session.async_payment_failed', completed('unpaid')),
    ];
  }
  if (session.mode === 'payment') return [event(1, 'checkout.session.completed', completed('paid'))];

  const trialing = session.trialEnd !== undefined && session.trialEnd > at;
  const events = [
    event(1, 'checkout.session.completed', completed('paid')),
    event(
      2,
      'customer.subscription.created',
      subscription(p, trialing ? 'trialing' : 'active', { metadata: session.subscriptionMetadata }),
    ),
  ];
  // A trial's first invoice is for nothing; its first charge comes when the trial ends.
  if (!trialing) {
    events.push(
      event(
        3,
        'invoice.paid',
        invoice(p, {
          id: `in_local_${key}`,
          billingReason: 'subscription_create',
          metadata: session.subscriptionMetadata,
        }),
      ),
    );
  }
  return events;
}

/** Posts each event, signed as Stripe signs it, to the webhook; stops at the first refusal. */
export async function deliverEvents(
  webhookUrl: string,
  secret: string,
  events: StripeEventShape[],
): Promise<void> {
  for (const event of events) {
    const payload = serialize(event);
    const res = await fetch(webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret }),
      },
      body: payload,
    });
    if (!res.ok) {
      throw new Error(`${event.type} was answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    }
  }
}
