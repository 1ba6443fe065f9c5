import type Stripe from 'stripe';
import type { TemplateData } from '../email/catalog.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { idOf } from '../infra/stripe.js';
import { ledgerModel } from '../ledger/ledger.model.js';
import { fromUnixSeconds } from '../shared/time.js';
import { METADATA_APP } from './checkout.service.js';
import { subscriptionOfInvoice } from './invoice.events.js';
import { findMemberByCustomer } from './member-keys.js';
import { membershipModels, type Subscription } from './membership.model.js';
import type { MembershipDeps, Outcome } from './membership.service.js';

// Telling members about a renewal before it fails or surprises them: a card that needs the
// member's confirmation (SCA) and a yearly renewal coming up. Neither changes state; each is one
// email, keyed by what it is about, so a duplicate event queues nothing new.

/** Who to write to: the member we know (their language), else the invoice's own details. */
async function recipientOf(deps: MembershipDeps, invoice: Stripe.Invoice, locale?: string) {
  const customerId = idOf(invoice.customer);
  const member = customerId ? await findMemberByCustomer(deps.db, customerId) : null;
  const email = member?.email ?? invoice.customer_email;
  const name = member?.name ?? invoice.customer_name ?? undefined;
  return email ? { email, name, locale: member?.locale ?? locale } : undefined;
}

type Recipient = NonNullable<Awaited<ReturnType<typeof recipientOf>>>;

/** An email about an invoice to its member, in their language: their name and the amount due, plus `data`. */
function emailAboutInvoice<T extends 'payment-action-required' | 'renewal-reminder'>(
  deps: MembershipDeps,
  to: Recipient,
  invoice: Stripe.Invoice,
  template: T,
  rest: { data: Omit<TemplateData<T>, 'name' | 'amount' | 'currency'>; idempotencyKey: string },
) {
  return enqueueEmail(deps.db, deps.clock, {
    template,
    to: { email: to.email, name: to.name },
    locale: to.locale,
    data: {
      name: to.name,
      amount: invoice.amount_due,
      currency: invoice.currency.toUpperCase(),
      ...rest.data,
    } as TemplateData<T>,
    idempotencyKey: rest.idempotencyKey,
  });
}

/**
 * invoice.payment_action_required: a renewal needs the member to confirm the payment with their
 * bank (3-D Secure under SCA). Stripe's hosted invoice page is where they do it. Said once per
 * invoice; not said when the invoice is already paid (the events crossed: invoice.paid came first).
 */
export async function notifyPaymentActionRequired(
  deps: MembershipDeps,
  invoice: Stripe.Invoice,
): Promise<Outcome> {
  const subscription = subscriptionOfInvoice(invoice);
  if (!invoice.id || !subscription.id || subscription.metadata?.app !== METADATA_APP) return 'ignored';
  if (!invoice.hosted_invoice_url) throw new Error(`invoice ${invoice.id} has no hosted invoice URL`);
  const paid = invoice.status === 'paid' || (await ledgerModel(deps.db).exists({ _id: invoice.id }));
  if (paid) {
    deps.logger.info({ invoiceId: invoice.id }, 'payment action no longer needed: the invoice is paid');
    return 'applied';
  }
  const to = await recipientOf(deps, invoice, subscription.metadata?.locale);
  if (!to) return 'ignored';
  await emailAboutInvoice(deps, to, invoice, 'payment-action-required', {
    data: { confirmUrl: invoice.hosted_invoice_url },
    idempotencyKey: `payment-action:${invoice.id}`,
  });
  return 'applied';
}

/** When an upcoming subscription invoice will be charged. */
function renewalOf(invoice: Stripe.Invoice): number | undefined {
  return (
    invoice.next_payment_attempt ?? invoice.lines?.data?.[0]?.period?.start ?? invoice.period_end ?? undefined
  );
}

/**
 * invoice.upcoming (sent by Stripe the configured number of days before a renewal): yearly members
 * get a reminder with the amount, the date and where to change or cancel. Monthly members do not
 * (a reminder twelve times a year is noise). The interval is the mirror's, which follows plan
 * switches; a subscription set to end, or ended, gets no reminder. An upcoming invoice has no id:
 * the reminder is keyed by subscription and renewal date.
 */
export async function remindUpcomingRenewal(deps: MembershipDeps, invoice: Stripe.Invoice): Promise<Outcome> {
  const subscription = subscriptionOfInvoice(invoice);
  if (!subscription.id || subscription.metadata?.app !== METADATA_APP) return 'ignored';
  const mirror = await membershipModels(deps.db).Subscription.findById(subscription.id).lean<Subscription>();
  const interval = mirror?.interval ?? subscription.metadata?.interval;
  if (interval !== 'year') return 'ignored';
  if (mirror && (mirror.cancelAtPeriodEnd || ['canceled', 'incomplete_expired'].includes(mirror.status))) {
    deps.logger.info(
      { subscriptionId: subscription.id },
      'no renewal reminder: the membership is set to end',
    );
    return 'applied';
  }
  const renewsAt = renewalOf(invoice);
  if (!renewsAt) throw new Error(`upcoming invoice of ${subscription.id} says no renewal date`);
  const to = await recipientOf(deps, invoice, subscription.metadata?.locale);
  if (!to) return 'ignored';
  await emailAboutInvoice(deps, to, invoice, 'renewal-reminder', {
    data: { renewsAt: fromUnixSeconds(renewsAt).toISOString(), manageUrl: `${deps.publicBaseUrl}/account` },
    idempotencyKey: `renewal-reminder:${subscription.id}:${renewsAt}`,
  });
  return 'applied';
}
