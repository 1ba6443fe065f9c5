import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { enqueueEmail } from '../email/outbox.service.js';
import { normalizeEmail } from '../email/suppression.service.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { idOf } from '../infra/stripe.js';
import { ledgerModel } from '../ledger/ledger.model.js';
import { recordLedgerEntry, refundedSoFar } from '../ledger/ledger.service.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { fromUnixSeconds } from '../shared/time.js';
import { METADATA_APP } from './checkout.service.js';
import { claimMemberKey, createMemberOnce, customerKey, findMemberByCustomer } from './member-keys.js';
import { type Member, type MemberStatus, membershipModels } from './membership.model.js';

export interface MembershipDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  events: DomainEvents;
  timeZone: string;
  publicBaseUrl: string;
}

/** What applying a Stripe object did: changed state, was not ours, or waits for payment. */
export type Outcome = 'applied' | 'ignored' | 'pending';

/** The event refers to something we do not know yet; answering 5xx makes Stripe send it again later. */
export class NotReadyYet extends Error {}

const isOurs = (metadata: Stripe.Metadata | null | undefined) => metadata?.app === METADATA_APP;

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
  const { member } = await createMemberOnce(deps.db, {
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

function subscriptionOfInvoice(invoice: Stripe.Invoice): { id?: string; metadata?: Stripe.Metadata | null } {
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
  if (!subscription.id || !isOurs(subscription.metadata)) return 'ignored';
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
    subscriptionId: subscription.id,
    paymentIntentId: legacy.payment_intent,
    chargeId: legacy.charge,
    plan: metadata.plan,
    interval: metadata.interval,
    campaign: metadata.campaign,
  });
  const periodEnd = invoice.lines?.data?.[0]?.period?.end;
  // The period end only moves forward. Checked on the member in hand and written by `_id` alone: a
  // filter with more than `_id` scans on FerretDB, and is no more atomic there than this check.
  if (periodEnd && !(member.currentPeriodEnd && member.currentPeriodEnd >= fromUnixSeconds(periodEnd))) {
    await membershipModels(deps.db).Member.updateOne(
      { _id: member._id },
      { $set: { currentPeriodEnd: fromUnixSeconds(periodEnd) } },
    );
  }
  return 'applied';
}

/** A failed renewal: tell the reader, with a link to update the card. State follows subscription events. */
export async function notifyPaymentFailed(deps: MembershipDeps, invoice: Stripe.Invoice): Promise<Outcome> {
  const subscription = subscriptionOfInvoice(invoice);
  if (!subscription.id || !isOurs(subscription.metadata) || !invoice.customer_email) return 'ignored';
  await enqueueEmail(deps.db, deps.clock, {
    template: 'payment-failed',
    to: { email: invoice.customer_email, name: invoice.customer_name ?? undefined },
    locale: subscription.metadata?.locale,
    data: {
      name: invoice.customer_name ?? undefined,
      amount: invoice.amount_due,
      currency: invoice.currency.toUpperCase(),
      updateUrl: `${deps.publicBaseUrl}/account`,
    },
    idempotencyKey: `payment-failed:${invoice.id}`,
  });
  return 'applied';
}

// Within one second, a subscription only moves forward: incomplete, then live, then ended.
const STATUS_RANK: Record<string, number> = { incomplete: 0, canceled: 2, incomplete_expired: 2 };
const rank = (status: string) => STATUS_RANK[status] ?? 1;

const MEMBER_STATUS_OF: Record<string, MemberStatus | undefined> = {
  active: 'active',
  trialing: 'active',
  past_due: 'past_due',
  unpaid: 'past_due',
  paused: 'past_due',
  canceled: 'canceled',
  incomplete_expired: 'canceled',
};

/**
 * Mirrors a subscription from customer.subscription.* events. Events arrive out of order, so an
 * event older than the last one applied changes nothing, and a canceled subscription stays canceled.
 */
export async function applySubscriptionEvent(
  deps: MembershipDeps,
  subscription: Stripe.Subscription,
  event: { id: string; created: number; type: string },
): Promise<Outcome> {
  if (!isOurs(subscription.metadata)) return 'ignored';
  const { Member, Subscription } = membershipModels(deps.db);
  const customerId = idOf(subscription.customer)!;
  const existing = await Subscription.findById(subscription.id).lean();
  // The mirror names its member; only a subscription seen for the first time needs the search.
  const member = existing
    ? await Member.findById(existing.memberId).lean<Member>()
    : await findMemberByCustomer(deps.db, customerId);
  if (!member) throw new NotReadyYet(`no member yet for customer ${customerId}`);

  const status = event.type === 'customer.subscription.deleted' ? 'canceled' : subscription.status;
  if (existing) {
    const stale =
      existing.status === 'canceled' ||
      existing.lastEventCreated > event.created ||
      (existing.lastEventCreated === event.created && rank(status) < rank(existing.status));
    if (stale) return 'applied';
  }
  const item = subscription.items?.data?.[0];
  const legacyPeriodEnd = (subscription as unknown as { current_period_end?: number }).current_period_end;
  const periodEnd = item?.current_period_end ?? legacyPeriodEnd;
  const mirror = {
    memberId: member._id,
    customerId,
    status,
    plan: subscription.metadata.plan ?? existing?.plan ?? 'custom',
    interval: item?.price?.recurring?.interval ?? subscription.metadata.interval ?? 'month',
    amount: item?.price?.unit_amount ?? existing?.amount ?? 0,
    currency: item?.price?.currency ?? existing?.currency ?? 'usd',
    currentPeriodEnd: periodEnd ? fromUnixSeconds(periodEnd) : undefined,
    cancelAtPeriodEnd: subscription.cancel_at_period_end ?? false,
    lastEventCreated: event.created,
    lastEventId: event.id,
  };
  await Subscription.updateOne({ _id: subscription.id }, { $set: mirror }, { upsert: true });

  const memberStatus = MEMBER_STATUS_OF[status];
  const periodMoved =
    mirror.currentPeriodEnd !== undefined &&
    member.currentPeriodEnd?.getTime() !== mirror.currentPeriodEnd.getTime();
  // Only write what changed: on FerretDB every update costs a scan of the collection.
  if (memberStatus && (memberStatus !== member.status || periodMoved)) {
    await Member.updateOne(
      { _id: member._id },
      {
        $set: {
          status: memberStatus,
          // When membership ended (what churn counts), kept from the first cancellation; cleared if it comes back.
          endedAt: memberStatus === 'canceled' ? (member.endedAt ?? fromUnixSeconds(event.created)) : null,
          ...(mirror.currentPeriodEnd ? { currentPeriodEnd: mirror.currentPeriodEnd } : {}),
        },
      },
    );
  }
  if (status === 'canceled') {
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

/** Finds the ledger entry of the payment a charge belongs to, if it is ours. */
async function paymentOfCharge(
  db: Connection,
  charge: { id: string; payment_intent?: string | null; invoice?: string | null },
) {
  const or: Record<string, string>[] = [{ chargeId: charge.id }];
  if (charge.payment_intent)
    or.push({ paymentIntentId: charge.payment_intent }, { _id: charge.payment_intent });
  if (charge.invoice) or.push({ _id: charge.invoice });
  return ledgerModel(db)
    .findOne({ $or: or, kind: { $in: ['subscription_payment', 'one_time_payment', 'gift_purchase'] } })
    .lean();
}

/**
 * A refund is negative money. Stripe's charge.refunded carries the running total refunded, so
 * each total is recorded once, as the part not recorded before.
 */
export async function recordRefund(
  deps: MembershipDeps,
  charge: Stripe.Charge,
  occurredAt: Date,
): Promise<Outcome> {
  const chargeRef = {
    id: charge.id,
    payment_intent: idOf(charge.payment_intent),
    invoice: (charge as unknown as { invoice?: string }).invoice,
  };
  const payment = await paymentOfCharge(deps.db, chargeRef);
  const member = payment?.memberId
    ? undefined
    : await findMemberByCustomer(deps.db, idOf(charge.customer) ?? '-');
  if (!payment && !member && !isOurs(charge.metadata)) return 'ignored';
  const newlyRefunded = charge.amount_refunded - (await refundedSoFar(deps.db, charge.id));
  if (newlyRefunded <= 0) return 'applied';
  await recordLedgerEntry(deps, {
    _id: `refund:${charge.id}:${charge.amount_refunded}`,
    kind: 'refund',
    amount: -newlyRefunded,
    currency: charge.currency,
    occurredAt,
    email: payment?.email ?? member?.email,
    memberId: payment?.memberId ?? member?._id,
    stripeCustomerId: idOf(charge.customer),
    chargeId: charge.id,
    paymentIntentId: chargeRef.payment_intent,
    reverses: payment?._id,
    campaign: payment?.campaign,
  });
  return 'applied';
}

/** A dispute takes the money away when opened; winning it gives it back. */
export async function recordDispute(
  deps: MembershipDeps,
  dispute: Stripe.Dispute,
  occurredAt: Date,
  phase: 'created' | 'closed',
): Promise<Outcome> {
  const chargeId = idOf(dispute.charge)!;
  const payment = await paymentOfCharge(deps.db, {
    id: chargeId,
    payment_intent: idOf(dispute.payment_intent),
  });
  if (!payment) return 'ignored';
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
