import type Stripe from 'stripe';
import type { Logger } from '../infra/logger.js';
import { idOf } from '../infra/stripe.js';

/**
 * Stripe's own receipt page for a payment (the charge's `receipt_url`), for our receipt email to
 * link. Checkout's event does not carry it, so Stripe is asked once; when Stripe does not answer,
 * the receipt goes out without the link rather than the payment waiting for it.
 */
export async function stripeReceiptUrl(
  stripe: Stripe | null | undefined,
  paymentIntentId: string | undefined,
  logger: Logger,
): Promise<string | undefined> {
  if (!stripe || !paymentIntentId) return undefined;
  try {
    // The same request settlement makes (ledger/settlement.service.ts), so Stripe sees one shape.
    const intent = await stripe.paymentIntents.retrieve(paymentIntentId, {
      expand: ['latest_charge.balance_transaction'],
    });
    const charge = intent.latest_charge;
    return typeof charge === 'object' && charge?.receipt_url ? charge.receipt_url : undefined;
  } catch (error) {
    logger.warn({ paymentIntentId, err: error }, 'no Stripe receipt link: the receipt goes out without it');
    return undefined;
  }
}

/** The PaymentIntent of a paid one-time payment session of ours (a contribution or a gift), whose receipt links Stripe's. */
export const paidOneTimePaymentIntent = (session: Stripe.Checkout.Session, app: string) =>
  session.metadata?.app === app &&
  ['one_time', 'gift'].includes(session.metadata.kind ?? '') &&
  session.payment_status === 'paid'
    ? idOf(session.payment_intent)
    : undefined;
