import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { cardUpdateUrl } from '../accounts/card-update.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { normalizeEmail } from '../email/suppression.service.js';
import { isAdoptedStripeObject } from '../imports/adopted.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { appendSlot, readSlots } from '../infra/slots.js';
import { idOf } from '../infra/stripe.js';
import { refundStepModel } from '../ledger/ledger.model.js';
import { findPayment, linkPayment, recordLedgerEntry } from '../ledger/ledger.service.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { fromUnixSeconds } from '../shared/time.js';
import { METADATA_APP } from './checkout.service.js';
import {
  claimMemberKey,
  createMemberOnce,
  customerKey,
  findMemberByCustomer,
  listMemberSubscription,
} from './member-keys.js';
import {
  type Member,
  type MemberStatus,
  membershipModels,
  type SubscriptionObservation,
  type SubscriptionState,
} from './membership.model.js';
import { tierOfLookupKey } from './stripe-catalog.js';

export interface MembershipDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  events: DomainEvents;
  timeZone: string;
  publicBaseUrl: string;
  /** STRIPE_ADOPT_UNTAGGED (src/imports/adopted.ts). */
  adoptUntagged?: boolean;
  /** Signs links that act for a reader without a login (the dunning email's card update). */
  linkSecret: string;
}

/** What applying a Stripe object did: changed state, was not ours, or waits for payment. */
export type Outcome = 'applied' | 'ignored' | 'pending';

/** The event refers to something we do not know yet; answering 5xx makes Stripe send it again later. */
export class NotReadyYet extends Error {}

const isOurs = (metadata: Stripe.Metadata | null | undefined) => metadata?.app === METADATA_APP;

/** Ours by our metadata, or an untagged object of the newsroom's adopted account (src/imports/). */
const isOursOrAdopted = async (
  deps: MembershipDeps,
  metadata: Stripe.Metadata | null | undefined,
  ids: { subscriptionId?: string; customerId?: string },
) => isOurs(metadata) || isAdoptedStripeObject(deps, ids);

/**
 * Makes the reader a member, once: the unique email decides who is first. The first time is
 * "joining" and is published to the rest of the app; later calls only bring the record up to date.
 */
async function ensureMember(
  deps: MembershipDeps,
  input: {
    email: string;
    name?: string;
    locale?: string;
    customerId?: string;
    via: string;
    at: Date;
    campaign?: string;
  },
): Promise<Member> {
  const email = normalizeEmail(input.email);
  // A known Stripe customer is a known member, whatever address the event carries: a reader who
  // changed their email in Stripe (or the Customer Portal) stays one member, counted once.
  const known = input.customerId ? await findMemberByCustomer(deps.db, input.customerId) : null;
  const { member } = known
    ? { member: known }
    : await createMemberOnce(deps.db, {
        email,
        name: input.name,
        locale: input.locale ?? 'en',
        stripeCustomerId: input.customerId,
        status: 'active',
        source: 'checkout',
        joinedAt: input.at,
        joinedVia: input.via,
        campaign: input.campaign,
      });
  if (input.customerId) {
    // Always claimed (not only when it changes), so a retry completes a key a crash left unwritten.
    await claimMemberKey(deps.db, customerKey(input.customerId), member._id);
    if (member.stripeCustomerId !== input.customerId) {
      await membershipModels(deps.db).Member.updateOne(
        { _id: member._id },
        { $set: { stripeCustomerId: input.customerId } },
      );
      member.stripeCustomerId = input.customerId;
    }
  }
  if (member.joinedVia === input.via) {
    await deps.events.publish('member.joined', {
      memberId: String(member._id),
      email: member.email,
      joinedAt: member.joinedAt,
      source: member.source,
      campaign: member.campaign,
    });
  }
  return member;
}

/** A paid Checkout Session (at completion, or later for delayed payment methods) fulfils once. */
export async function fulfillCheckoutSession(
  deps: MembershipDeps,
  session: Stripe.Checkout.Session,
  occurredAt: Date,
  /** For the one-time receipt: Stripe's receipt page and the charity statement (receipt-links.ts). */
  receipt: { receiptUrl?: string; charityStatement?: string } = {},
): Promise<Outcome> {
  const metadata = session.metadata ?? {};
  if (!isOurs(metadata) || !['membership', 'one_time'].includes(metadata.kind ?? '')) {
    deps.logger.info({ sessionId: session.id }, 'ignoring a checkout session without our metadata');
    return 'ignored';
  }
  if (session.payment_status !== 'paid' && session.payment_status !== 'no_payment_required') return 'pending';
  const email = session.customer_details?.email ?? session.customer_email;
  if (!email) throw new Error(`checkout session ${session.id} has no email`);
  const name = metadata.name ?? session.customer_details?.name ?? undefined;
  const locale = metadata.locale ?? 'en';

  if (metadata.kind === 'one_time') {
    const paymentIntentId = idOf(session.payment_intent);
    await recordLedgerEntry(deps, {
      _id: paymentIntentId ?? session.id,
      kind: 'one_time_payment',
      amount: session.amount_total ?? 0,
      currency: session.currency ?? 'usd',
      occurredAt,
      email: normalizeEmail(email),
      name,
      stripeCustomerId: idOf(session.customer),
      paymentIntentId,
      checkoutSessionId: session.id,
      plan: 'one_time',
      campaign: metadata.campaign,
    });
    await enqueueEmail(deps.db, deps.clock, {
      template: 'contribution-receipt',
      to: { email, name },
      locale,
      data: {
        name,
        amount: session.amount_total ?? 0,
        currency: (session.currency ?? 'usd').toUpperCase(),
        paidAt: occurredAt.toISOString(),
        reference: paymentIntentId ?? session.id,
        ...receipt,
      },
      idempotencyKey: `receipt:${session.id}`,
    });
    return 'applied';
  }

  const subscriptionId = idOf(session.subscription);
  if (!subscriptionId) throw new Error(`subscription checkout session ${session.id} has no subscription`);
  const member = await ensureMember(deps, {
    email,
    name,
    locale,
    customerId: idOf(session.customer),
    via: subscriptionId,
    at: occurredAt,
    campaign: metadata.campaign,
  });
  await mirrorNewSubscription(deps, {
    id: subscriptionId,
    memberId: member._id,
    customerId: idOf(session.customer) ?? '',
    plan: metadata.plan ?? 'custom',
    interval: metadata.interval ?? 'month',
    amount: session.amount_total ?? 0,
    currency: session.currency ?? 'usd',
  });
  if (member.status !== 'active' && member.joinedVia !== subscriptionId) {
    // A lapsed member came back: active again, but they joined long ago.
    await membershipModels(deps.db).Member.updateOne({ _id: member._id }, { $set: { status: 'active' } });
  }
  if (member.joinedVia === subscriptionId) {
    await enqueueEmail(deps.db, deps.clock, {
      template: 'member-welcome',
      to: { email, name },
      locale,
      data: {
        name,
        planName: planLabel(metadata.plan, metadata.interval),
        accountUrl: `${deps.publicBaseUrl}/account`,
      },
      idempotencyKey: `welcome:${subscriptionId}`,
    });
  }
  return 'applied';
}

const planLabel = (plan = 'custom', interval = 'month') =>
  `${plan === 'custom' ? 'Membership' : plan.charAt(0).toUpperCase() + plan.slice(1)}, ${interval === 'year' ? 'yearly' : 'monthly'}`;

/** The subscription's first record, before Stripe's own subscription events fill it in. */
async function mirrorNewSubscription(
  deps: MembershipDeps,
  sub: {
    id: string;
    memberId: Member['_id'];
    customerId: string;
    plan: string;
    interval: string;
    amount: number;
    currency: string;
  },
) {
  try {
    await membershipModels(deps.db).Subscription.create({
      _id: sub.id,
      ...sub,
      status: 'active',
      cancelAtPeriodEnd: false,
      lastEventCreated: 0, // any real subscription event is newer
      lastEventId: 'checkout',
    });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

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
      // Straight to the card form: a signed, single-use link (accounts/card-update.ts); customer_email
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

// Within one second, a subscription only moves forward: incomplete, then live, then ended.
const STATUS_RANK: Record<string, number> = { incomplete: 0, canceled: 2, incomplete_expired: 2 };
const rank = (status: string) => STATUS_RANK[status] ?? 1;
const ENDED = new Set(['canceled', 'incomplete_expired']);

/**
 * Which of two observations of one subscription is the newer: an ended subscription stays ended;
 * otherwise the later event, then the further status within one second, then the event id (so
 * every process picks the same one).
 */
function isNewer(a: SubscriptionObservation, b: SubscriptionObservation): boolean {
  const key = (o: SubscriptionObservation) =>
    [ENDED.has(o.state.status) ? 1 : 0, o.created, rank(o.state.status)] as const;
  const [ka, kb] = [key(a), key(b)];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! > kb[i]!;
  return a.eventId > b.eventId;
}

const MEMBER_STATUS_OF: Record<string, MemberStatus | undefined> = {
  active: 'active',
  trialing: 'active',
  past_due: 'past_due',
  unpaid: 'past_due',
  paused: 'past_due',
  canceled: 'canceled',
  incomplete_expired: 'canceled',
};

// How many times one delivery re-derives before giving up with a 5xx (Stripe retries): each
// round only repeats when a concurrent delivery changed what it read.
const MAX_ROUNDS = 20;

/**
 * Mirrors a subscription from customer.subscription.* events, which arrive out of order, twice,
 * and at the same moment. Each event is stored as an immutable observation; the mirror and the
 * member are then brought to what the newest observation says, and checked again after every
 * write. No delivery decides from a read it does not re-check: whichever write lands last, the
 * delivery that made it reads again afterwards, and every observation stored before that read is
 * accounted for, so any interleaving ends at the newest event's state. A retry after a failure
 * repeats every step (each is idempotent), so a half-applied event is always finished.
 */
export async function applySubscriptionEvent(
  deps: MembershipDeps,
  subscription: Stripe.Subscription,
  event: { id: string; created: number; type: string },
): Promise<Outcome> {
  const customerId = idOf(subscription.customer)!;
  const ids = { subscriptionId: subscription.id, customerId };
  if (!(await isOursOrAdopted(deps, subscription.metadata, ids))) return 'ignored';
  const { Member, Subscription, SubscriptionObservation } = membershipModels(deps.db);
  const known = await Subscription.findById(subscription.id).select({ memberId: 1 }).lean();
  // The mirror names its member; only a subscription seen for the first time needs the search.
  const memberId = known?.memberId ?? (await findMemberByCustomer(deps.db, customerId))?._id;
  if (!memberId) throw new NotReadyYet(`no member yet for customer ${customerId}`);

  await appendSlot(
    SubscriptionObservation,
    subscription.id,
    {
      subscriptionId: subscription.id,
      eventId: event.id,
      created: event.created,
      state: stateOf(subscription, event, memberId, customerId),
    },
    (stored) => stored.eventId === event.id,
  );

  // The member's list of subscriptions, before anything is decided from it (see memberChange).
  await listMemberSubscription(deps.db, memberId, subscription.id);

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const observations = await readSlots(SubscriptionObservation, subscription.id);
    const newest = observations.reduce((a, b) => (isNewer(b, a) ? b : a));
    const mirror = await Subscription.findById(subscription.id).lean();
    if (mirror?.lastEventId !== newest.eventId) {
      await Subscription.updateOne(
        { _id: subscription.id },
        { $set: { ...newest.state, lastEventCreated: newest.created, lastEventId: newest.eventId } },
        { upsert: true },
      ).catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error; // a racing upsert created it: read again
      });
      continue;
    }
    const member = await Member.findById(newest.state.memberId).lean<Member>();
    if (!member) throw new NotReadyYet(`member ${newest.state.memberId} is gone`);
    const all = await newestOfEachSubscription(deps, member._id, newest);
    const change = memberChange(member, all);
    if (change) {
      await Member.updateOne({ _id: member._id }, { $set: change });
      continue;
    }
    // "Your membership has ended" only when it has: not when one of two subscriptions ends.
    if (ENDED.has(newest.state.status) && member.status === 'canceled') {
      await enqueueEmail(deps.db, deps.clock, {
        template: 'membership-canceled',
        to: { email: member.email, name: member.name },
        locale: member.locale,
        data: { name: member.name, rejoinUrl: `${deps.publicBaseUrl}/membership` },
        idempotencyKey: `canceled:${subscription.id}`,
      });
    }
    return 'applied';
  }
  throw new Error(`subscription ${subscription.id} kept changing under concurrent deliveries`);
}

/** What one event says the mirror is: a function of the event alone, so any process derives the same. */
function stateOf(
  subscription: Stripe.Subscription,
  event: { type: string },
  memberId: Member['_id'],
  customerId: string,
): SubscriptionState {
  const item = subscription.items?.data?.[0];
  const legacyPeriodEnd = (subscription as unknown as { current_period_end?: number }).current_period_end;
  const periodEnd = item?.current_period_end ?? legacyPeriodEnd;
  return {
    memberId,
    customerId,
    status: event.type === 'customer.subscription.deleted' ? 'canceled' : subscription.status,
    // A switch in the Customer Portal changes the price, not our metadata: the tier is the price's.
    plan: tierOfLookupKey(item?.price?.lookup_key) ?? subscription.metadata.plan ?? 'custom',
    interval: item?.price?.recurring?.interval ?? subscription.metadata.interval ?? 'month',
    amount: item?.price?.unit_amount ?? 0,
    currency: item?.price?.currency ?? 'usd',
    ...(periodEnd ? { currentPeriodEnd: fromUnixSeconds(periodEnd) } : {}),
    cancelAtPeriodEnd: subscription.cancel_at_period_end ?? false,
  };
}

/**
 * The member fields the newest observation decides, or null when they already hold. Only what
 * differs is written: on FerretDB every update rewrites the whole document.
 */
/** The newest observation of each subscription the member has had (this one's is in hand). */
async function newestOfEachSubscription(
  deps: MembershipDeps,
  memberId: Member['_id'],
  current: SubscriptionObservation,
): Promise<SubscriptionObservation[]> {
  const { SubscriptionObservation, MemberSubscription } = membershipModels(deps.db);
  const newest = [current];
  for (const { subscriptionId } of await readSlots(MemberSubscription, String(memberId))) {
    if (subscriptionId === current.subscriptionId) continue;
    const observations = await readSlots(SubscriptionObservation, subscriptionId);
    if (observations.length) newest.push(observations.reduce((a, b) => (isNewer(b, a) ? b : a)));
  }
  return newest;
}

/**
 * The member's status follows the best of their subscriptions: a reader who canceled and came back,
 * or who pays twice, is active while any subscription is; they are canceled only when all ended.
 */
function memberChange(member: Member, subscriptions: SubscriptionObservation[]): Partial<Member> | null {
  const decided = subscriptions.filter((o) => MEMBER_STATUS_OF[o.state.status]);
  if (decided.length === 0) return null; // incomplete: the member's state waits for a live status
  const statusOf = (o: SubscriptionObservation) => MEMBER_STATUS_OF[o.state.status]!;
  const status = (['active', 'past_due', 'canceled'] as const).find((s) =>
    decided.some((o) => statusOf(o) === s),
  )!;
  const deciding = decided.filter((o) => statusOf(o) === status);
  // When membership ended (what churn counts): the last cancellation's own time; cleared while it runs.
  const endedAt = status === 'canceled' ? fromUnixSeconds(Math.max(...deciding.map((o) => o.created))) : null;
  const periodEnds = deciding.map((o) => o.state.currentPeriodEnd).filter((d): d is Date => Boolean(d));
  const periodEnd = periodEnds.length
    ? new Date(Math.max(...periodEnds.map((d) => new Date(d).getTime())))
    : null;
  const change: Partial<Member> = {};
  if (member.status !== status) change.status = status;
  if ((member.endedAt?.getTime() ?? null) !== (endedAt?.getTime() ?? null)) change.endedAt = endedAt;
  if (periodEnd && member.currentPeriodEnd?.getTime() !== periodEnd.getTime())
    change.currentPeriodEnd = periodEnd;
  return Object.keys(change).length > 0 ? change : null;
}

/**
 * A refund is negative money. Stripe's charge.refunded carries the running total refunded; the
 * charge's refund steps (RefundStep) extend a chain 0 → a → b … by unique insert, each step one
 * ledger entry, so the entries add up to the largest total seen, whatever the order, however many
 * deliveries race. Every call walks the whole chain and (re)records each step's entry, so a
 * delivery that failed half-way is finished by any later one. A refund whose payment is not
 * recorded yet is kept (the stored event) and answered 5xx: Stripe delivers it again later.
 */
export async function recordRefund(
  deps: MembershipDeps,
  charge: Stripe.Charge,
  occurredAt: Date,
): Promise<Outcome> {
  const legacy = charge as unknown as { invoice?: string };
  const payment = await findPayment(deps.db, [idOf(charge.payment_intent), charge.id, legacy.invoice]);
  if (!payment) throw new NotReadyYet(`refund of ${charge.id}: its payment is not recorded yet`);
  const total = charge.amount_refunded;
  const of = charge.refunded ? total : charge.amount;
  const Steps = refundStepModel(deps.db);
  for (let from = 0; ; ) {
    const step = await Steps.findById(`${charge.id}:${from}`).lean();
    if (!step) {
      if (from >= total) return 'applied';
      await Steps.create({
        _id: `${charge.id}:${from}`,
        chargeId: charge.id,
        from,
        to: total,
        of,
        occurredAt,
      }).catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error; // another delivery extended it first: read its step
      });
      continue;
    }
    await recordLedgerEntry(deps, {
      _id: `refund:${charge.id}:${step.to}`,
      kind: 'refund',
      amount: step.from - step.to,
      currency: charge.currency,
      occurredAt: step.occurredAt,
      email: payment.email,
      memberId: payment.memberId,
      stripeCustomerId: idOf(charge.customer),
      chargeId: charge.id,
      paymentIntentId: idOf(charge.payment_intent),
      reverses: payment._id,
      campaign: payment.campaign,
      ...(step.to >= step.of ? { fullRefund: true } : {}),
    });
    from = step.to;
  }
}

/** A dispute takes the money away when opened; winning it gives it back. Kept, like a refund, until its payment is known. */
export async function recordDispute(
  deps: MembershipDeps,
  dispute: Stripe.Dispute,
  occurredAt: Date,
  phase: 'created' | 'closed',
): Promise<Outcome> {
  const chargeId = idOf(dispute.charge)!;
  const payment = await findPayment(deps.db, [idOf(dispute.payment_intent), chargeId]);
  if (!payment) throw new NotReadyYet(`dispute ${dispute.id}: its payment is not recorded yet`);
  if (phase === 'closed' && dispute.status !== 'won') return 'applied';
  await recordLedgerEntry(deps, {
    _id: phase === 'created' ? dispute.id : `${dispute.id}:won`,
    kind: phase === 'created' ? 'dispute' : 'dispute_reversal',
    amount: phase === 'created' ? -dispute.amount : dispute.amount,
    currency: dispute.currency,
    occurredAt,
    email: payment.email,
    memberId: payment.memberId,
    chargeId,
    paymentIntentId: idOf(dispute.payment_intent),
    reverses: payment._id,
    campaign: payment.campaign,
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
