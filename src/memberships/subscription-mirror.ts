import type Stripe from 'stripe';
import { isDuplicateKey } from '../infra/db.js';
import { idOf } from '../infra/stripe.js';
import { fromUnixSeconds } from '../shared/time.js';
import {
  type BillingCoupon,
  type BillingDiscount,
  type Member,
  type MemberStatus,
  membershipModels,
  type SubscriptionBilling,
  type SubscriptionObservation,
  type SubscriptionState,
} from './membership.model.js';
import type { MembershipDeps } from './membership.service.js';
import { tierOfLookupKey } from './stripe-catalog.js';

// The one mapping from a Stripe subscription to our mirror of it and to the member's status. The
// subscription events (subscription.events.ts) and the adoption of an existing Stripe account
// (stripe-adoption.ts) both derive from it, so an adopted subscription's mirror is what its next
// event would write.

/**
 * What a Stripe subscription says the mirror is: a function of the object (and the event type)
 * alone, so any process derives the same. Shapes per Stripe's API reference: a subscription item
 * bills its price's `unit_amount` times its `quantity`; since API version 2025-03-31 the period
 * end is on the item, before it on the subscription.
 */
export function subscriptionState(
  subscription: Stripe.Subscription,
  memberId: Member['_id'],
  event?: { type: string },
): SubscriptionState {
  const item = subscription.items?.data?.[0];
  const legacyPeriodEnd = (subscription as unknown as { current_period_end?: number }).current_period_end;
  const periodEnd = item?.current_period_end ?? legacyPeriodEnd;
  return {
    memberId,
    customerId: idOf(subscription.customer)!,
    status: event?.type === 'customer.subscription.deleted' ? 'canceled' : subscription.status,
    // A switch in the Customer Portal changes the price, not our metadata: the tier is the price's.
    plan: tierOfLookupKey(item?.price?.lookup_key) ?? subscription.metadata?.plan ?? 'custom',
    interval: item?.price?.recurring?.interval ?? subscription.metadata?.interval ?? 'month',
    amount: (item?.price?.unit_amount ?? 0) * (item?.quantity ?? 1),
    currency: item?.price?.currency ?? 'usd',
    ...(periodEnd ? { currentPeriodEnd: fromUnixSeconds(periodEnd) } : {}),
    cancelAtPeriodEnd: subscription.cancel_at_period_end ?? false,
    billing: billingOf(subscription),
    trialEnd: subscription.trial_end ? fromUnixSeconds(subscription.trial_end) : null,
    canceledAt: subscription.canceled_at ? fromUnixSeconds(subscription.canceled_at) : null,
    cancellation: cancellationOf(subscription.cancellation_details),
  };
}

/**
 * What the subscription bills each period, kept for MRR (src/reports/README.md): every item's price
 * × quantity, and its discounts. Stripe's webhook payloads carry discounts as ids (`discounts` is
 * expandable), so a coupon is kept when the object has it expanded and priced by the report
 * otherwise. Every item of a subscription bills on the same interval (Stripe requires it).
 */
function billingOf(subscription: Stripe.Subscription): SubscriptionBilling {
  const items = subscription.items?.data ?? [];
  const recurring = items[0]?.price?.recurring;
  const discountsOf = (list: (string | Stripe.Discount)[] | undefined, item?: string) =>
    (list ?? []).map((d): BillingDiscount => {
      if (typeof d === 'string') return { id: d, ...(item ? { item } : {}), end: null };
      const coupon = d.source?.coupon;
      return {
        id: d.id,
        ...(item ? { item } : {}),
        end: d.end ?? null,
        ...(coupon && typeof coupon === 'object' ? { coupon: couponOf(coupon) } : {}),
      };
    });
  return {
    interval: recurring?.interval ?? subscription.metadata?.interval ?? 'month',
    intervalCount: recurring?.interval_count ?? 1,
    items: items.map((item) => ({
      id: item.id,
      product: idOf(item.price?.product) ?? null,
      amount: (item.price?.unit_amount ?? 0) * (item.quantity ?? 1),
    })),
    discounts: [
      ...items.flatMap((item) => discountsOf(item.discounts, item.id)),
      ...discountsOf(subscription.discounts),
    ],
  };
}

export const couponOf = (coupon: Stripe.Coupon): BillingCoupon => ({
  id: coupon.id,
  duration: coupon.duration,
  percentOff: coupon.percent_off ?? null,
  amountOff: coupon.amount_off ?? null,
  currency: coupon.currency ?? null,
  ...(coupon.currency_options
    ? {
        amountOffByCurrency: Object.fromEntries(
          Object.entries(coupon.currency_options).map(([c, o]) => [c, o.amount_off]),
        ),
      }
    : {}),
  ...(coupon.applies_to?.products ? { products: coupon.applies_to.products } : {}),
});

/**
 * Why it was canceled, as Stripe and the Customer Portal's prompt say. The free-text `comment` is
 * not kept: it is the member's own words (personal data), read in Stripe when needed (docs/privacy.md).
 */
function cancellationOf(details: Stripe.Subscription.CancellationDetails | null | undefined) {
  if (!details?.reason && !details?.feedback) return null;
  return { reason: details.reason ?? null, feedback: details.feedback ?? null };
}

/** The subscription's first record, before Stripe's own subscription events fill it in. */
export async function mirrorNewSubscription(
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

// Within one second, a subscription only moves forward: incomplete, then live, then ended.
const STATUS_RANK: Record<string, number> = { incomplete: 0, canceled: 2, incomplete_expired: 2 };
const rank = (status: string) => STATUS_RANK[status] ?? 1;
export const ENDED = new Set(['canceled', 'incomplete_expired']);

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

/**
 * The member status each Stripe status means; none for `incomplete` (no live status yet). Stripe's
 * `paused` (customer.subscription.paused, or .updated with that status) bills nothing and retries
 * nothing, so it is `paused`, not dunning; `pause_collection` leaves Stripe's status `active` and so
 * the member active (src/memberships/README.md, "Paused subscriptions").
 */
const MEMBER_STATUS_OF: Record<string, MemberStatus | undefined> = {
  active: 'active',
  trialing: 'active',
  past_due: 'past_due',
  unpaid: 'past_due',
  paused: 'paused',
  canceled: 'canceled',
  incomplete_expired: 'canceled',
};

export const memberStatusOf = (stripeStatus: string) => MEMBER_STATUS_OF[stripeStatus];

/** A member with several subscriptions has the first of these any of them gives. */
export const STATUS_PRECEDENCE = ['active', 'past_due', 'paused', 'canceled'] as const;

/** The newest of one subscription's observations. */
export const newestOf = (observations: SubscriptionObservation[]) =>
  observations.reduce((a, b) => (isNewer(b, a) ? b : a));

/**
 * The member's status follows the best of their subscriptions: a reader who canceled and came back,
 * or who pays twice, is active while any subscription is; they are canceled only when all ended.
 * Returns the member fields that differ, or null when they already hold: only what differs is
 * written, because on FerretDB every update rewrites the whole document.
 */
export function memberChange(
  member: Member,
  subscriptions: SubscriptionObservation[],
): Partial<Member> | null {
  const decided = subscriptions.filter((o) => memberStatusOf(o.state.status));
  if (decided.length === 0) return null; // incomplete: the member's state waits for a live status
  const statusOf = (o: SubscriptionObservation) => memberStatusOf(o.state.status)!;
  const status = STATUS_PRECEDENCE.find((s) => decided.some((o) => statusOf(o) === s))!;
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
