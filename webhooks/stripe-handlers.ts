import type Stripe from 'stripe';
import {
  applySubscriptionEvent,
  fulfillCheckoutSession,
  type MembershipDeps,
  notifyPaymentFailed,
  type Outcome,
  recordDispute,
  recordInvoicePaid,
  recordRefund,
} from '../src/memberships/membership.service.js';
import { fromUnixSeconds } from '../src/shared/time.js';

/** The part of a Stripe event a handler needs; stored events replay through the same shape. */
export interface StripeEventInput {
  id: string;
  type: string;
  created: number;
  object: unknown;
}

export type StripeEventHandler = (deps: MembershipDeps, event: StripeEventInput) => Promise<Outcome>;

const at = (event: StripeEventInput) => fromUnixSeconds(event.created);
const subscriptionHandler: StripeEventHandler = (deps, event) =>
  applySubscriptionEvent(deps, event.object as Stripe.Subscription, event);

/**
 * Which Stripe event does what. Adding an event is adding a row. Types not listed are stored and
 * acknowledged; nothing else happens.
 */
export const STRIPE_EVENT_HANDLERS: Record<string, StripeEventHandler> = {
  'checkout.session.completed': (deps, event) =>
    fulfillCheckoutSession(deps, event.object as Stripe.Checkout.Session, at(event)),
  'checkout.session.async_payment_succeeded': (deps, event) =>
    fulfillCheckoutSession(deps, event.object as Stripe.Checkout.Session, at(event)),
  'checkout.session.async_payment_failed': async (deps, event) => {
    deps.logger.info(
      { sessionId: (event.object as { id: string }).id },
      'delayed checkout payment failed: nothing granted',
    );
    return 'applied';
  },
  'invoice.paid': (deps, event) => recordInvoicePaid(deps, event.object as Stripe.Invoice, at(event)),
  'invoice.payment_failed': (deps, event) => notifyPaymentFailed(deps, event.object as Stripe.Invoice),
  'customer.subscription.created': subscriptionHandler,
  'customer.subscription.updated': subscriptionHandler,
  'customer.subscription.deleted': subscriptionHandler,
  'charge.refunded': (deps, event) => recordRefund(deps, event.object as Stripe.Charge, at(event)),
  'charge.dispute.created': (deps, event) =>
    recordDispute(deps, event.object as Stripe.Dispute, at(event), 'created'),
  'charge.dispute.closed': (deps, event) =>
    recordDispute(deps, event.object as Stripe.Dispute, at(event), 'closed'),
};
