import type Stripe from 'stripe';
import {
  abandonGiftCheckout,
  fulfillGiftPayment,
  type GiftDeps,
  giftRefundable,
  refundGift,
} from '../src/gifts/gift.service.js';
import { idOf } from '../src/infra/stripe.js';
import { recordRefund, recordRefundFailure } from '../src/memberships/charge.events.js';
import { METADATA_APP } from '../src/memberships/checkout.service.js';
import { fulfillCheckoutSession } from '../src/memberships/checkout-session.events.js';
import { applyCustomerUpdated } from '../src/memberships/customer-email.js';
import { applyDispute, applyEarlyFraudWarning } from '../src/memberships/dispute.events.js';
import {
  linkInvoicePayment,
  notifyPaymentFailed,
  recordInvoicePaid,
} from '../src/memberships/invoice.events.js';
import type { MembershipDeps, Outcome } from '../src/memberships/membership.service.js';
import { paidOneTimePaymentIntent, stripeReceiptUrl } from '../src/memberships/receipt-links.js';
import { notifyPaymentActionRequired, remindUpcomingRenewal } from '../src/memberships/renewal-notices.js';
import { applySubscriptionEvent } from '../src/memberships/subscription.events.js';
import { fromUnixSeconds } from '../src/shared/time.js';
import { fulfillSponsorship } from '../src/sponsorship/sponsorship.service.js';

/** The part of a Stripe event a handler needs; stored events replay through the same shape. */
export interface StripeEventInput {
  id: string;
  type: string;
  created: number;
  object: unknown;
}

/** Memberships' dependencies, plus the gifts capability (one webhook, one fulfilment mechanism). */
export interface WebhookDeps extends MembershipDeps {
  gifts: GiftDeps;
  /** Asked for what an event does not carry (a receipt's link); absent in replay. */
  stripe?: Stripe | null;
  /** A charity's statement for receipts (CHARITY_STATEMENT). */
  charityStatement?: string;
  /** EARLY_FRAUD_WARNING_REFUNDS: refund a warned gift or one-time contribution before a dispute. */
  earlyFraudWarningRefunds?: boolean;
}

export type StripeEventHandler = (deps: WebhookDeps, event: StripeEventInput) => Promise<Outcome>;

const at = (event: StripeEventInput) => fromUnixSeconds(event.created);

/** A paid Checkout Session: the `kind` in our metadata says which capability fulfils it. */
const fulfil: StripeEventHandler = async (deps, event) => {
  const session = event.object as Stripe.Checkout.Session;
  const kind = session.metadata?.app === METADATA_APP ? session.metadata.kind : undefined;
  if (kind === 'sponsorship') return fulfillSponsorship(deps, session, at(event));
  // One-time contributions and gifts get a receipt from us that links Stripe's own.
  const paymentIntent = paidOneTimePaymentIntent(session, METADATA_APP);
  const receiptUrl = await stripeReceiptUrl(deps.stripe, paymentIntent, deps.logger);
  const receipt = {
    ...(receiptUrl ? { receiptUrl } : {}),
    ...(deps.charityStatement ? { charityStatement: deps.charityStatement } : {}),
  };
  return kind === 'gift'
    ? fulfillGiftPayment(deps.gifts, session, at(event), receipt)
    : fulfillCheckoutSession(deps, session, at(event), receipt);
};
/**
 * A Checkout Session that ended unpaid: expired, or completed with a delayed method whose payment
 * then failed. Only a gift stores anything before payment (its pending gift); memberships,
 * contributions and sponsorships are written when paid, so theirs leave nothing to clean.
 */
const endUnpaid: StripeEventHandler = async (deps, event) => {
  const session = event.object as Stripe.Checkout.Session;
  const kind = session.metadata?.app === METADATA_APP ? session.metadata.kind : undefined;
  if (kind === 'gift') return abandonGiftCheckout(deps.gifts, session);
  deps.logger.info({ sessionId: session.id, type: event.type }, 'checkout ended unpaid: nothing granted');
  return kind ? 'applied' : 'ignored';
};
/** A refund that failed or was canceled after it was made (the event's object is the Refund). */
const refundFailed: StripeEventHandler = (deps, event) =>
  recordRefundFailure(deps, event.object as Stripe.Refund, at(event));
const subscriptionHandler: StripeEventHandler = (deps, event) =>
  applySubscriptionEvent(deps, event.object as Stripe.Subscription, event);
/** Every dispute event books what the dispute's balance transactions say Stripe moved (dispute.events.ts). */
const disputeHandler: StripeEventHandler = (deps, event) =>
  applyDispute(deps, event.object as Stripe.Dispute, at(event), event.type);

/**
 * Which Stripe event does what. Adding an event is adding a row. Types not listed are stored and
 * acknowledged; nothing else happens.
 */
export const STRIPE_EVENT_HANDLERS: Record<string, StripeEventHandler> = {
  'checkout.session.completed': fulfil,
  'checkout.session.async_payment_succeeded': fulfil,
  'checkout.session.async_payment_failed': endUnpaid,
  'checkout.session.expired': endUnpaid,
  'invoice.paid': (deps, event) => recordInvoicePaid(deps, event.object as Stripe.Invoice, at(event)),
  'invoice_payment.paid': (deps, event) => linkInvoicePayment(deps, event.object as Stripe.InvoicePayment),
  'invoice.payment_failed': (deps, event) => notifyPaymentFailed(deps, event.object as Stripe.Invoice),
  'invoice.payment_action_required': (deps, event) =>
    notifyPaymentActionRequired(deps, event.object as Stripe.Invoice),
  'invoice.upcoming': (deps, event) => remindUpcomingRenewal(deps, event.object as Stripe.Invoice),
  'customer.updated': (deps, event) => applyCustomerUpdated(deps, event.object as Stripe.Customer, event),
  'customer.subscription.created': subscriptionHandler,
  'customer.subscription.updated': subscriptionHandler,
  'customer.subscription.deleted': subscriptionHandler,
  'customer.subscription.paused': subscriptionHandler,
  'customer.subscription.resumed': subscriptionHandler,
  'charge.refunded': async (deps, event) => {
    const charge = event.object as Stripe.Charge;
    const outcome = await recordRefund(deps, charge, at(event));
    const paymentIntent = idOf(charge.payment_intent);
    if (charge.refunded && paymentIntent) await refundGift(deps.gifts, paymentIntent, at(event));
    return outcome;
  },
  'refund.failed': refundFailed,
  'refund.updated': refundFailed,
  'charge.refund.updated': refundFailed,
  'charge.dispute.created': disputeHandler,
  'charge.dispute.funds_withdrawn': disputeHandler,
  'charge.dispute.funds_reinstated': disputeHandler,
  'charge.dispute.closed': disputeHandler,
  'radar.early_fraud_warning.created': (deps, event) =>
    applyEarlyFraudWarning(deps, event.object as Stripe.Radar.EarlyFraudWarning, {
      refund: Boolean(deps.earlyFraudWarningRefunds),
      stripe: deps.stripe,
      giftRefundable: (paymentIntentId) => giftRefundable(deps.gifts, paymentIntentId),
    }),
};

/**
 * The table's handler for a type, or none. Only the table's own entries count: an event type is
 * text Stripe sends, and `constructor` or `toString` would otherwise find the Object prototype's.
 */
export function handlerFor(
  handlers: Record<string, StripeEventHandler>,
  type: string,
): StripeEventHandler | undefined {
  return Object.hasOwn(handlers, type) ? handlers[type] : undefined;
}
