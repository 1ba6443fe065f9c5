import type Stripe from 'stripe';
import { enqueueEmail } from '../email/outbox.service.js';
import { idOf } from '../infra/stripe.js';
import { linkPayment, recordLedgerEntry } from '../ledger/ledger.service.js';
import { attributionFromMetadata } from '../shared/attribution.js';
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

/**
 * How an invoice was paid: through Stripe (a charge behind it), outside Stripe (the newsroom marked
 * it paid out of band), or not at all (a $0 invoice: a trial, a 100 % promotion code, gift months).
 * At the pinned API version the Invoice no longer carries `paid_out_of_band`; what says so is
 * `amount_paid_off_stripe` (computed from Payment Records, when the payload includes it) or the
 * invoice's payments whose type is `payment_record`. Older payloads still carry the boolean.
 */
export function invoiceMoney(invoice: Stripe.Invoice): { viaStripe: number; outOfBand: number } {
  const paid = invoice.amount_paid ?? 0;
  const legacy = invoice as unknown as { paid_out_of_band?: boolean };
  const recorded = (invoice.payments?.data ?? [])
    .filter((p) => p.status === 'paid' && p.payment?.type === 'payment_record')
    .reduce((total, p) => total + (p.amount_paid ?? 0), 0);
  const offStripe =
    typeof invoice.amount_paid_off_stripe === 'number'
      ? invoice.amount_paid_off_stripe
      : legacy.paid_out_of_band === true
        ? paid
        : recorded;
  const outOfBand = Math.min(Math.max(offStripe, 0), paid);
  return { viaStripe: paid - outOfBand, outOfBand };
}

/**
 * Every paid invoice of one of our subscriptions is recorded once by invoice id, as what it is
 * (ledger README): money through Stripe a `subscription_payment`, money received outside Stripe an
 * `out_of_band_payment`, a $0 invoice a `free_invoice` of 0. An invoice paid partly each way is
 * two entries, the out-of-band part under `<invoice>:out_of_band`.
 */
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
  const money = invoiceMoney(invoice);
  const member = await ensureMember(deps, {
    email: invoice.customer_email,
    name: metadata.name ?? invoice.customer_name ?? undefined,
    locale: metadata.locale,
    customerId: idOf(invoice.customer),
    via: subscription.id,
    at: occurredAt,
    campaign: metadata.campaign,
    attribution: attributionFromMetadata(metadata),
    // A member counts toward a drive once real money arrived (campaigns README).
    paid: money.viaStripe + money.outOfBand > 0,
  });
  const legacy = invoice as unknown as { payment_intent?: string; charge?: string };
  const paidAt = invoice.status_transitions?.paid_at
    ? fromUnixSeconds(invoice.status_transitions.paid_at)
    : occurredAt;
  const entry = {
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
    ...periodOfInvoice(invoice),
    plan: metadata.plan,
    interval: metadata.interval,
    campaign: metadata.campaign,
    attribution: attributionFromMetadata(metadata),
  };
  if (money.viaStripe > 0)
    await recordLedgerEntry(deps, {
      ...entry,
      _id: invoice.id!,
      kind: 'subscription_payment',
      amount: money.viaStripe,
      paymentIntentId: legacy.payment_intent,
      chargeId: legacy.charge,
    });
  if (money.outOfBand > 0)
    await recordLedgerEntry(deps, {
      ...entry,
      _id: money.viaStripe > 0 ? `${invoice.id}:out_of_band` : invoice.id!,
      kind: 'out_of_band_payment',
      amount: money.outOfBand,
    });
  if (money.viaStripe + money.outOfBand === 0)
    await recordLedgerEntry(deps, { ...entry, _id: invoice.id!, kind: 'free_invoice', amount: 0 });
  // Today an invoice names its PaymentIntents only through its payments (when Stripe includes
  // them); invoice_payment.paid links them too. Either way before any refund needs them.
  if (money.viaStripe > 0)
    for (const invoicePayment of invoice.payments?.data ?? [])
      await linkPayment(deps.db, invoice.id!, paymentIdsOf(invoicePayment));
  // A renewal with money (not the first invoice, not a $0 one): told once per invoice id, since
  // the key of the webhook it becomes is the invoice (Stripe may send invoice.paid twice).
  if (invoice.billing_reason === 'subscription_cycle' && money.viaStripe + money.outOfBand > 0)
    await deps.events.publish('member.renewed', {
      memberId: String(member._id),
      invoiceId: invoice.id!,
      subscriptionId: subscription.id,
      amount: invoice.amount_paid,
      currency: invoice.currency,
      renewedAt: paidAt,
      periodEnd: entry.periodEnd,
    });
  // The member's period end follows the subscription's own events (customer.subscription.updated
  // comes with every renewal): one writer per member field, because on FerretDB two concurrent
  // updates of one document can undo each other.
  return 'applied';
}

/**
 * The subscription period an invoice bills, from its lines (each line's `period`; prorations left
 * out, they bill part of another period): absent when the payload lists no line.
 */
export function periodOfInvoice(invoice: Stripe.Invoice): { periodStart?: Date; periodEnd?: Date } {
  const periods = (invoice.lines?.data ?? [])
    .filter((line) => line.period && line.parent?.subscription_item_details?.proration !== true)
    .map((line) => line.period);
  if (periods.length === 0) return {};
  return {
    periodStart: fromUnixSeconds(Math.min(...periods.map((p) => p.start))),
    periodEnd: fromUnixSeconds(Math.max(...periods.map((p) => p.end))),
  };
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
  await deps.events.publish('member.payment_failed', {
    invoiceId: invoice.id!,
    customerId: idOf(invoice.customer)!,
    amount: invoice.amount_due,
    currency: invoice.currency,
    occurredAt: Number.isInteger(invoice.created) ? fromUnixSeconds(invoice.created) : deps.clock.now(),
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
