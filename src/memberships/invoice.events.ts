import type Stripe from 'stripe';
import { enqueueEmail } from '../email/outbox.service.js';
import { idOf } from '../infra/stripe.js';
import { linkPayment, recordLedgerEntry } from '../ledger/ledger.service.js';
import { fromUnixSeconds } from '../shared/time.js';
import { cardUpdateUrl } from './card-link.js';
import { ensureMember } from './member-writes.js';
import { isOursOrAdopted, type MembershipDeps, type Outcome } from './membership.service.js';

export function subscriptionOfInvoice(invoice: Stripe.Invoice): {
  id?: string;
  metadata?: Stripe.Metadata | null;
} {
  const details = invoice.parent?.subscription_details;
  // Before API version 2025-03-31 these lived on the invoice itself.
  const legacy = invoice as unknown as {
    subscription?: string;
    subscription_details?: { metadata?: Stripe.Metadata };
  };
  return {
    id: idOf(details?.subscription as string | { id: string } | undefined) ?? legacy.subscription,
    metadata: details?.metadata ?? legacy.subscription_details?.metadata,
  };
}

/** Every paid invoice of one of our subscriptions is money in, recorded once by invoice id. */
export async function recordInvoicePaid(
  deps: MembershipDeps,
  invoice: Stripe.Invoice,
  occurredAt: Date,
): Promise<Outcome> {
  const subscription = subscriptionOfInvoice(invoice);
  const ids = { subscriptionId: subscription.id, customerId: idOf(invoice.customer) };
  if (!subscription.id || !(await isOursOrAdopted(deps, subscription.metadata, ids))) return 'ignored';
  if (!invoice.customer_email) throw new Error(`invoice ${invoice.id} has no customer email`);
  const metadata = subscription.metadata ?? {};
  const member = await ensureMember(deps, {
    email: invoice.customer_email,
    name: metadata.name ?? invoice.customer_name ?? undefined,
    locale: metadata.locale,
    customerId: idOf(invoice.customer),
    via: subscription.id,
    at: occurredAt,
    campaign: metadata.campaign,
  });
  const legacy = invoice as unknown as { payment_intent?: string; charge?: string };
  const paidAt = invoice.status_transitions?.paid_at
    ? fromUnixSeconds(invoice.status_transitions.paid_at)
    : occurredAt;
  await recordLedgerEntry(deps, {
    _id: invoice.id!,
    kind: 'subscription_payment',
    amount: invoice.amount_paid,
    currency: invoice.currency,
    occurredAt: paidAt,
    email: member.email,
    name: member.name,
    memberId: member._id,
    stripeCustomerId: idOf(invoice.customer),
    invoiceId: invoice.id,
    billingReason: invoice.billing_reason ?? undefined,
    subscriptionId: subscription.id,
    paymentIntentId: legacy.payment_intent,
    chargeId: legacy.charge,
    plan: metadata.plan,
    interval: metadata.interval,
    campaign: metadata.campaign,
  });
  // Today an invoice names its PaymentIntents only through its payments (when Stripe includes
  // them); invoice_payment.paid links them too. Either way before any refund needs them.
  for (const invoicePayment of invoice.payments?.data ?? [])
    await linkPayment(deps.db, invoice.id!, paymentIdsOf(invoicePayment));
  // The member's period end follows the subscription's own events (customer.subscription.updated
  // comes with every renewal): one writer per member field, because on FerretDB two concurrent
  // updates of one document can undo each other.
  return 'applied';
}

/** A failed renewal: tell the reader, with a link to update the card. State follows subscription events. */
export async function notifyPaymentFailed(deps: MembershipDeps, invoice: Stripe.Invoice): Promise<Outcome> {
  const subscription = subscriptionOfInvoice(invoice);
  const ids = { subscriptionId: subscription.id, customerId: idOf(invoice.customer) };
  if (!subscription.id || !invoice.customer_email) return 'ignored';
  if (!(await isOursOrAdopted(deps, subscription.metadata, ids))) return 'ignored';
  await enqueueEmail(deps.db, deps.clock, {
    template: 'payment-failed',
    to: { email: invoice.customer_email, name: invoice.customer_name ?? undefined },
    locale: subscription.metadata?.locale,
    data: {
      name: invoice.customer_name ?? undefined,
      amount: invoice.amount_due,
      currency: invoice.currency.toUpperCase(),
      // Straight to the card form: a signed, single-use link (card-link.ts); customer_email
      // was checked above and an invoice always names its customer.
      updateUrl: cardUpdateUrl(deps.publicBaseUrl, deps.linkSecret, {
        customer: idOf(invoice.customer)!,
        invoice: invoice.id!,
        // Stripe always sends `created`; the clock keeps a link valid if an event ever lacks it.
        invoiceCreated: Number.isInteger(invoice.created)
          ? invoice.created
          : Math.floor(deps.clock.now().getTime() / 1000),
      }),
    },
    idempotencyKey: `payment-failed:${invoice.id}`,
  });
  return 'applied';
}

/** invoice_payment.paid: which PaymentIntent (and charge) paid an invoice, for refunds that name only those. */
export async function linkInvoicePayment(
  deps: MembershipDeps,
  invoicePayment: Stripe.InvoicePayment,
): Promise<Outcome> {
  const invoiceId = idOf(invoicePayment.invoice as string | { id: string } | undefined);
  if (!invoiceId) return 'ignored';
  await linkPayment(deps.db, invoiceId, paymentIdsOf(invoicePayment));
  return 'applied';
}

const paymentIdsOf = (invoicePayment: { payment?: Partial<Stripe.InvoicePayment.Payment> | null }) => [
  idOf(invoicePayment.payment?.payment_intent as string | { id: string } | undefined),
  idOf(invoicePayment.payment?.charge as string | { id: string } | undefined),
];
