import Stripe from 'stripe';
import * as shapes from '../../src/dev/stripe-events.js';
import { TEST_ENV } from './test-app.js';

// Stripe events as Stripe sends them, signed with the test endpoint secret. The shapes live in
// src/dev/stripe-events.ts (the local checkout sends the same ones); this adds test ids, a fixed
// time and signing.

const stripe = new Stripe(TEST_ENV.STRIPE_SECRET_KEY);
let seq = 0;
const nextId = (prefix: string) => `${prefix}_test${Date.now().toString(36)}${(++seq).toString(36)}`;
export const T0 = 1_795_000_000; // 2026-11-18, in Stripe's seconds

export type TestEvent = shapes.StripeEventShape;
export type Purchase = shapes.Purchase;
export const { serialize, checkoutSession, subscription, charge, dispute } = shapes;

export function stripeEvent(
  type: string,
  object: Record<string, unknown>,
  created = T0,
  id = nextId('evt'),
): TestEvent {
  return shapes.stripeEvent(type, object, created, id);
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
    at: T0,
    name: 'Olena Test',
    ...overrides,
  };
}

/** An invoice with a new id each call (a renewal is another invoice), unless the test names one. */
export function invoice(p: Purchase, options: Parameters<typeof shapes.invoice>[1] = {}) {
  return shapes.invoice(p, { id: nextId('in'), ...options });
}
