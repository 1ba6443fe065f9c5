import type { Types } from 'mongoose';
import type Stripe from 'stripe';
import { appendSlot } from '../infra/slots.js';
import { idOf, type Stripe as StripeClient } from '../infra/stripe.js';
import { type LedgerEntry, ledgerModel, paymentLinkModel, refundStepModel } from '../ledger/ledger.model.js';
import { findPayment } from '../ledger/ledger.service.js';
import { METADATA_APP } from '../memberships/checkout.service.js';
import { claimMemberKey, customerKey, emailKey, findMemberByCustomer } from '../memberships/member-keys.js';
import {
  type MemberStatus,
  membershipModels,
  type SubscriptionObservation,
  type SubscriptionState,
} from '../memberships/membership.model.js';
import { subscriptionOfInvoice } from '../memberships/membership.service.js';
import { calendarKeys, fromUnixSeconds } from '../shared/time.js';
import { insertUnique, mapLimit } from './bulk.js';
import type { MemberRow } from './formats.js';
import {
  type ImportDeps,
  type ImportOptions,
  type ImportSummary,
  importedMemberId,
  newSummary,
  writeMembers,
} from './import.service.js';

// Adopting the newsroom's Stripe account: every customer with a subscription that is not ours
// (no `metadata.app`) becomes a member marked `imported`, with the date they really joined; each
// such subscription gets its mirror and an observation (so its later events decide the member's
// status as for our own), and, for a chosen period, paid invoices and one-time charges become
// ledger entries marked `imported` with their payment links, so refunds and disputes find them.
// Nothing is emailed and no `member.joined` is published: they were members before any drive.
// Every record's `_id` is its Stripe id (or its member's address), so a rerun changes nothing.

export interface AdoptDeps extends ImportDeps {
  stripe: StripeClient;
  timeZone: string;
}

type StripeCounts = { subscriptions: number; invoices: number; charges: number; refunds: number };
const counts = (summary: ImportSummary) => summary.details as unknown as StripeCounts;

const isOurs = (metadata: Stripe.Metadata | null | undefined) => metadata?.app === METADATA_APP;

const MEMBER_STATUS_OF: Record<string, MemberStatus> = {
  active: 'active',
  trialing: 'active',
  past_due: 'past_due',
  unpaid: 'past_due',
  paused: 'past_due',
  canceled: 'canceled',
  incomplete_expired: 'canceled',
};
const BEST: MemberStatus[] = ['active', 'past_due', 'canceled'];

function stateOf(sub: Stripe.Subscription, memberId: Types.ObjectId): SubscriptionState {
  const item = sub.items?.data?.[0];
  const periodEnd =
    item?.current_period_end ?? (sub as unknown as { current_period_end?: number }).current_period_end;
  return {
    memberId,
    customerId: idOf(sub.customer)!,
    status: sub.status,
    plan: sub.metadata?.plan ?? item?.price?.lookup_key ?? 'custom',
    interval: item?.price?.recurring?.interval ?? 'month',
    amount: (item?.price?.unit_amount ?? 0) * (item?.quantity ?? 1),
    currency: item?.price?.currency ?? 'usd',
    ...(periodEnd ? { currentPeriodEnd: fromUnixSeconds(periodEnd) } : {}),
    cancelAtPeriodEnd: sub.cancel_at_period_end ?? false,
  };
}

/** The member a customer's subscriptions make: the best status, the latest period end, the first start. */
function memberRowOf(customer: Stripe.Customer, subs: Stripe.Subscription[]): MemberRow {
  const statuses = subs.map((s) => MEMBER_STATUS_OF[s.status]).filter((s): s is MemberStatus => Boolean(s));
  const status = BEST.find((s) => statuses.includes(s)) ?? 'canceled';
  const ends = subs
    .map((s) => s.items?.data?.[0]?.current_period_end)
    .filter((n): n is number => typeof n === 'number');
  const endedAt = Math.max(0, ...subs.map((s) => s.ended_at ?? 0));
  return {
    email: customer.email!.trim().toLowerCase(),
    name: customer.name ?? undefined,
    joinedAt: fromUnixSeconds(Math.min(...subs.map((s) => s.start_date ?? s.created))),
    customerId: customer.id,
    status,
    labels: [],
    ...(ends.length ? { currentPeriodEnd: fromUnixSeconds(Math.max(...ends)) } : {}),
    ...(status === 'canceled' && endedAt ? { endedAt: fromUnixSeconds(endedAt) } : {}),
  };
}

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
    await adoptCustomers(deps, batch, subsOf, memberOf, summary, options);
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

/** One batch of customers: members (or the member who already has the address), mirrors, observations. */
async function adoptCustomers(
  deps: AdoptDeps,
  customers: Stripe.Customer[],
  subsOf: Map<string, Stripe.Subscription[]>,
  memberOf: Map<string, Types.ObjectId>,
  summary: ImportSummary,
  options: ImportOptions,
) {
  const { Member, Subscription, SubscriptionObservation, MemberSubscription } = membershipModels(deps.db);
  // A customer who is already a member (our own checkout, or a members file naming the customer).
  const known = await mapLimit(customers, 8, (c) => findMemberByCustomer(deps.db, c.id));
  const fresh = customers.filter((_, i) => !known[i]);
  const rows = fresh.map((c) => memberRowOf(c, subsOf.get(c.id)!));
  const owners = await writeMembers(deps, 'stripe', rows, summary, options);
  summary.existing += customers.length - fresh.length;
  if (options.dryRun) {
    // Who they would be, so the dry run counts their invoices too.
    customers.forEach((c, i) => {
      memberOf.set(c.id, known[i]?._id ?? importedMemberId(c.email!.trim().toLowerCase()));
    });
    return;
  }
  // Not ours: the address belongs to a member already (a reader who also joined through checkout).
  const resolved = await mapLimit(
    fresh.map((c, i) => [c, i] as const),
    8,
    async ([c, i]) => {
      if (owners[i]) return owners[i]!;
      const key = await deps.db
        .model('MemberKey')
        .findById(emailKey(rows[i]!.email))
        .lean<{ memberId: Types.ObjectId }>();
      if (key) await claimMemberKey(deps.db, customerKey(c.id), key.memberId);
      return key?.memberId ?? null;
    },
  );
  customers.forEach((c, i) => {
    const id = known[i]?._id ?? resolved[fresh.indexOf(c)];
    if (id) memberOf.set(c.id, id);
  });
  // A member a members file brought (imported, linked by customer id) takes the status Stripe has;
  // written only when it differs, so a second run changes nothing.
  await mapLimit(
    customers.flatMap((c, i) => (known[i]?.source === 'imported' ? [[c, known[i]!] as const] : [])),
    8,
    async ([c, member]) => {
      const row = memberRowOf(c, subsOf.get(c.id)!);
      const change = {
        ...(member.status !== row.status ? { status: row.status } : {}),
        ...(row.currentPeriodEnd && member.currentPeriodEnd?.getTime() !== row.currentPeriodEnd.getTime()
          ? { currentPeriodEnd: row.currentPeriodEnd }
          : {}),
      };
      if (Object.keys(change).length) await Member.updateOne({ _id: member._id }, { $set: change });
    },
  );
  const now = deps.clock.now();
  const subs = customers.flatMap((c) => (memberOf.has(c.id) ? subsOf.get(c.id)! : []));
  await insertUnique(
    Subscription.collection,
    subs.map((sub) => ({
      _id: sub.id,
      ...stateOf(sub, memberOf.get(idOf(sub.customer)!)!),
      lastEventCreated: 0, // any real event is newer
      lastEventId: 'import',
      source: 'imported',
      createdAt: now,
      updatedAt: now,
    })),
  );
  options.checkpoint?.('stripe-subscriptions');
  // The observation and the member's subscription list the subscription handler decides from:
  // a later event about one of several subscriptions sees the others as they were adopted. One
  // member's subscriptions in id order, so every run (and a rerun after a crash) lists them alike.
  const byMember = new Map<string, Stripe.Subscription[]>();
  for (const sub of subs) {
    const key = String(memberOf.get(idOf(sub.customer)!));
    byMember.set(key, [...(byMember.get(key) ?? []), sub]);
  }
  await mapLimit([...byMember.values()], 8, async (memberSubs) => {
    for (const sub of memberSubs.sort((a, b) => a.id.localeCompare(b.id))) {
      const memberId = memberOf.get(idOf(sub.customer)!)!;
      await appendSlot(
        SubscriptionObservation,
        sub.id,
        { subscriptionId: sub.id, eventId: `import:${sub.id}`, created: 0, state: stateOf(sub, memberId) },
        (stored: SubscriptionObservation) => stored.eventId === `import:${sub.id}`,
      );
      await appendSlot(
        MemberSubscription,
        String(memberId),
        { subscriptionId: sub.id },
        (stored) => stored.subscriptionId === sub.id,
      );
    }
  });
  options.checkpoint?.('stripe-observations');
}

type NewEntry = Omit<LedgerEntry, 'day' | 'month' | 'recordedAt'>;

async function insertEntries(
  deps: AdoptDeps,
  entries: NewEntry[],
  links: { _id: string; entryId: string }[],
) {
  const now = deps.clock.now();
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
    entries.push({
      _id: invoice.id!,
      kind: 'subscription_payment',
      amount: invoice.amount_paid,
      currency: invoice.currency,
      occurredAt: fromUnixSeconds(invoice.status_transitions?.paid_at ?? invoice.created),
      ...(invoice.customer_email ? { email: invoice.customer_email.toLowerCase() } : {}),
      memberId,
      stripeCustomerId: customer,
      invoiceId: invoice.id,
      ...(invoice.billing_reason ? { billingReason: invoice.billing_reason } : {}),
      subscriptionId: subscription.id,
    });
    for (const id of paymentIds) links.push({ _id: id, entryId: invoice.id! });
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
