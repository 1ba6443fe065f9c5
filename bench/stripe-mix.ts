import {
  charge,
  checkoutSession,
  invoice,
  purchase,
  stripeEvent,
  subscription,
  T0,
  type TestEvent,
} from '../test/support/stripe-events.js';

/**
 * The Stripe benches' mix: `memberships` memberships of three events each (checkout, subscription,
 * paid invoice), then `contributions` one-time payments, each partly refunded. In the order built.
 */
export function stripeEventMix(memberships: number, contributions: number): TestEvent[] {
  const events: TestEvent[] = [];
  for (let i = 0; i < memberships; i++) {
    const p = purchase();
    events.push(
      stripeEvent('checkout.session.completed', checkoutSession(p), T0 + i),
      stripeEvent('customer.subscription.created', subscription(p, 'active'), T0 + i + 1),
      stripeEvent('invoice.paid', invoice(p), T0 + i + 2),
    );
  }
  for (let i = 0; i < contributions; i++) {
    const p = purchase({ amount: 3000 });
    events.push(
      stripeEvent('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), T0 + i),
      stripeEvent('charge.refunded', charge(p, { amountRefunded: 1000, kind: 'one_time' }), T0 + i + 100),
    );
  }
  return events;
}
