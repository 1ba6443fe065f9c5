import type { Types } from 'mongoose';
import type Stripe from 'stripe';
import { insertUnique } from '../infra/bulk.js';
import { idOf, type Stripe as StripeClient } from '../infra/stripe.js';
import {
  type LedgerEntry,
  ledgerModel,
  movedByStripe,
  paymentLinkModel,
  refundStepModel,
  settlementDueModel,
} from '../ledger/ledger.model.js';
import { findPayment } from '../ledger/ledger.service.js';
import { listMemberEntries } from '../ledger/member-entries.js';
import { invoiceMoney, subscriptionOfInvoice } from '../memberships/invoice.events.js';
import { findMemberByCustomer } from '../memberships/member-keys.js';
import { isOurs } from '../memberships/membership.service.js';
import { adoptStripeMembers } from '../memberships/stripe-adoption.js';
import { calendarKeys, fromUnixSeconds } from '../shared/time.js';
import { type ImportDeps, type ImportOptions, type ImportSummary, newSummary } from './import.service.js';

// Adopting the newsroom's Stripe account: every customer with a subscription that is not ours
// (no `metadata.app`) becomes a member marked `imported`, with the date they really joined; each
// such subscription gets its mirror and an observation (so its later events decide the member's
// status as for our own; memberships writes both, stripe-adoption.ts), and, for a chosen period,
// paid invoices and one-time charges become ledger entries marked `imported` with their payment
// links, so refunds and disputes find them.
// Nothing is emailed and no `member.joined` is published: they were members before any drive.
// Every record's `_id` is its Stripe id (or its member's address), so a rerun changes nothing.

export interface AdoptDeps extends ImportDeps {
  stripe: StripeClient;
  timeZone: string;
}

type StripeCounts = { subscriptions: number; invoices: number; charges: number; refunds: number };
const counts = (summary: ImportSummary) => summary.details as unknown as StripeCounts;

export async function adoptStripeAccount(
  deps: AdoptDeps,
  options: ImportOptions & { since?: Date; pageSize?: number; onStage?: (stage: string) => void } = {},
): Promise<ImportSummary> {
  const summary = newSummary('stripe', 'stripe', options);
  const page = options.pageSize ?? 100;
  const details: StripeCounts = { subscriptions: 0, invoices: 0, charges: 0, refunds: 0 };
  summary.details = details;

  options.onStage?.('subscriptions');
  const subsOf = new Map<string, Stripe.Subscription[]>();
  for await (const sub of deps.stripe.subscriptions.list({ status: 'all', limit: page })) {
    if (isOurs(sub.metadata)) continue;
    const customer = idOf(sub.customer)!;
    subsOf.set(customer, [...(subsOf.get(customer) ?? []), sub]);
  }

  options.onStage?.('customers');
  const memberOf = new Map<string, Types.ObjectId>();
  let batch: Stripe.Customer[] = [];
  const flush = async () => {
    const written = await adoptStripeMembers(deps, batch, subsOf, memberOf, options);
    summary.created += written.created;
    summary.existing += written.existing;
    details.subscriptions += batch.reduce(
      (n, c) => n + (memberOf.has(c.id) ? subsOf.get(c.id)!.length : 0),
      0,
    );
    batch = [];
    options.onRows?.(summary.rows);
  };
  for await (const customer of deps.stripe.customers.list({ limit: page })) {
    if (!subsOf.has(customer.id)) continue; // one-time donors and strangers are not members
    summary.rows++;
    if (!customer.email) {
      summary.rejected.push({ line: customer.id, email: '', reason: 'the Stripe customer has no email' });
      continue;
    }
    batch.push(customer);
    if (batch.length >= (options.batchSize ?? 200)) await flush();
  }
  if (batch.length) await flush();

  if (options.since) {
    options.onStage?.('invoices');
    const invoicePayments = await adoptInvoices(deps, options.since, memberOf, summary, { ...options, page });
    options.onStage?.('charges');
    await adoptCharges(deps, options.since, invoicePayments, summary, { ...options, page });
  }
  return summary;
}

type NewEntry = Omit<LedgerEntry, 'day' | 'month' | 'recordedAt'>;

async function insertEntries(
  deps: AdoptDeps,
  entries: NewEntry[],
  links: { _id: string; entryId: string }[],
) {
  const now = deps.clock.now();
  // Listed for the settlement sweep before the entries exist, as recordLedgerEntry does.
  await insertUnique(
    settlementDueModel(deps.db).collection,
    entries.filter((e) => movedByStripe(e.kind)).map((e) => ({ _id: e._id, occurredAt: e.occurredAt })),
  );
  await listMemberEntries(deps.db, entries);
  const inserted = await insertUnique(
    ledgerModel(deps.db).collection,
    entries.map((e) => ({
      ...e,
      ...calendarKeys(e.occurredAt, deps.timeZone),
      recordedAt: now,
      source: 'imported',
    })),
  );
  await insertUnique(paymentLinkModel(deps.db).collection, links);
  return inserted.size;
}

/** Paid invoices of adopted subscriptions since `since`: the PaymentIntents every paid invoice names. */
async function adoptInvoices(
  deps: AdoptDeps,
  since: Date,
  memberOf: Map<string, Types.ObjectId>,
  summary: ImportSummary,
  options: ImportOptions & { page: number },
): Promise<Set<string>> {
  const invoicePayments = new Set<string>();
  let entries: NewEntry[] = [];
  let links: { _id: string; entryId: string }[] = [];
  const flush = async () => {
    if (!options.dryRun) counts(summary).invoices += await insertEntries(deps, entries, links);
    else counts(summary).invoices += entries.length;
    options.checkpoint?.('stripe-invoices');
    entries = [];
    links = [];
  };
  const created = { gte: Math.floor(since.getTime() / 1000) };
  for await (const invoice of deps.stripe.invoices.list({
    status: 'paid',
    created,
    limit: options.page,
    expand: ['data.payments'],
  })) {
    const paymentIds = (invoice.payments?.data ?? []).flatMap((p) =>
      [
        idOf(p.payment?.payment_intent as string | { id: string } | undefined),
        idOf(p.payment?.charge as string | { id: string } | undefined),
      ].filter((id): id is string => Boolean(id)),
    );
    for (const id of paymentIds) invoicePayments.add(id);
    const subscription = subscriptionOfInvoice(invoice);
    const customer = idOf(invoice.customer);
    if (!subscription.id || isOurs(subscription.metadata) || !customer) continue;
    const memberId = memberOf.get(customer) ?? (await findMemberByCustomer(deps.db, customer))?._id;
    if (!memberId) continue;
    // As recordInvoicePaid books them: a $0 invoice and money paid outside Stripe are what they are.
    const money = invoiceMoney(invoice);
    const entry = {
      currency: invoice.currency,
      occurredAt: fromUnixSeconds(invoice.status_transitions?.paid_at ?? invoice.created),
      ...(invoice.customer_email ? { email: invoice.customer_email.toLowerCase() } : {}),
      memberId,
      stripeCustomerId: customer,
      invoiceId: invoice.id,
      ...(invoice.billing_reason ? { billingReason: invoice.billing_reason } : {}),
      subscriptionId: subscription.id,
    };
    if (money.viaStripe > 0)
      entries.push({ ...entry, _id: invoice.id!, kind: 'subscription_payment', amount: money.viaStripe });
    if (money.outOfBand > 0)
      entries.push({
        ...entry,
        _id: money.viaStripe > 0 ? `${invoice.id}:out_of_band` : invoice.id!,
        kind: 'out_of_band_payment',
        amount: money.outOfBand,
      });
    if (money.viaStripe + money.outOfBand === 0)
      entries.push({ ...entry, _id: invoice.id!, kind: 'free_invoice', amount: 0 });
    if (money.viaStripe > 0) for (const id of paymentIds) links.push({ _id: id, entryId: invoice.id! });
    if (entries.length >= 200) await flush();
  }
  await flush();
  return invoicePayments;
}

/**
 * Charges since `since`: a payment nobody recorded that no invoice names is a one-time
 * contribution; a refunded amount (of any recorded payment) becomes the first step of the charge's
 * refund chain, exactly as charge.refunded would record it, so later refund events continue it.
 */
async function adoptCharges(
  deps: AdoptDeps,
  since: Date,
  invoicePayments: Set<string>,
  summary: ImportSummary,
  options: ImportOptions & { page: number },
) {
  const created = { gte: Math.floor(since.getTime() / 1000) };
  for await (const charge of deps.stripe.charges.list({ created, limit: options.page })) {
    if (charge.status !== 'succeeded' || !charge.paid) continue;
    const paymentIntent = idOf(charge.payment_intent);
    let payment = await findPayment(deps.db, [paymentIntent, charge.id]);
    const byInvoice = (paymentIntent && invoicePayments.has(paymentIntent)) || invoicePayments.has(charge.id);
    if (!payment && !byInvoice && !isOurs(charge.metadata)) {
      const memberId = charge.customer
        ? (await findMemberByCustomer(deps.db, idOf(charge.customer)!))?._id
        : undefined;
      const entry: NewEntry = {
        _id: paymentIntent ?? charge.id,
        kind: 'one_time_payment',
        amount: charge.amount,
        currency: charge.currency,
        occurredAt: fromUnixSeconds(charge.created),
        ...(charge.billing_details?.email ? { email: charge.billing_details.email.toLowerCase() } : {}),
        ...(memberId ? { memberId } : {}),
        ...(idOf(charge.customer) ? { stripeCustomerId: idOf(charge.customer) } : {}),
        chargeId: charge.id,
        ...(paymentIntent ? { paymentIntentId: paymentIntent } : {}),
        plan: 'one_time',
      };
      counts(summary).charges++;
      if (options.dryRun) continue;
      await insertEntries(deps, [entry], paymentIntent ? [{ _id: charge.id, entryId: entry._id }] : []);
      payment = { ...entry, day: '', month: '', recordedAt: new Date() };
    }
    if (!payment || charge.amount_refunded <= 0) continue;
    counts(summary).refunds++;
    if (options.dryRun) continue;
    await adoptRefund(deps, charge, payment);
  }
  options.checkpoint?.('stripe-charges');
}

async function adoptRefund(deps: AdoptDeps, charge: Stripe.Charge, payment: LedgerEntry) {
  let at = charge.created;
  for await (const refund of deps.stripe.refunds.list({ charge: charge.id, limit: 100 }))
    at = Math.max(at, refund.created);
  const total = charge.amount_refunded;
  await insertUnique(refundStepModel(deps.db).collection, [
    {
      _id: `${charge.id}:0`,
      chargeId: charge.id,
      from: 0,
      to: total,
      of: charge.refunded ? total : charge.amount,
      occurredAt: fromUnixSeconds(at),
    },
  ]);
  // The chain's first step may be an earlier one (a refund event got here first): record what it says.
  const step = (await refundStepModel(deps.db).findById(`${charge.id}:0`).lean())!;
  await insertEntries(
    deps,
    [
      {
        _id: `refund:${charge.id}:${step.to}`,
        kind: 'refund',
        amount: -step.to,
        currency: charge.currency,
        occurredAt: step.occurredAt,
        ...(payment.email ? { email: payment.email } : {}),
        ...(payment.memberId ? { memberId: payment.memberId } : {}),
        chargeId: charge.id,
        ...(idOf(charge.payment_intent) ? { paymentIntentId: idOf(charge.payment_intent) } : {}),
        reverses: payment._id,
        ...(step.to >= step.of ? { fullRefund: true } : {}),
      },
    ],
    [],
  );
}
