import type Stripe from 'stripe';
import { enqueueEmail } from '../email/outbox.service.js';
import { normalizeEmail } from '../email/suppression.service.js';
import { idOf } from '../infra/stripe.js';
import { recordLedgerEntry } from '../ledger/ledger.service.js';
import { attributionFromMetadata } from '../shared/attribution.js';
import { placementOf } from './attribution-input.js';
import { ensureMember, reactivateMember } from './member-writes.js';
import { isOurs, type MembershipDeps, type Outcome } from './membership.service.js';
import { mirrorNewSubscription } from './subscription-mirror.js';

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
  const attribution = attributionFromMetadata(metadata);
  // The funnel's last step, once per session however often Stripe delivers it (src/attribution).
  await deps.events.publish('checkout.paid', {
    sessionId: session.id,
    kind: metadata.kind === 'one_time' ? 'one_time' : 'membership',
    campaign: metadata.campaign,
    placement: placementOf(attribution?.placement),
    at: occurredAt,
  });

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
      attribution,
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
    attribution,
    // A trial or a 100 % promotion code completes with no payment: not yet money (campaigns README).
    paid: session.payment_status === 'paid' && (session.amount_total ?? 0) > 0,
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
    await reactivateMember(deps, member._id);
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
