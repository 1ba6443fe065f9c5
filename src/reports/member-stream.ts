import type { Connection } from 'mongoose';
import { type Member, membershipModels, type Subscription } from '../memberships/membership.model.js';
import { billedAt, type PricedDiscounts } from './mrr.js';

type MemberFind = ReturnType<ReturnType<typeof membershipModels>['Member']['find']>;

/**
 * Every member a query selects, with its latest subscription, in constant memory: members by id
 * and subscriptions by member stream side by side. No query runs per member or per batch (on
 * FerretDB each `$in` scans the whole collection).
 */
export function membersWithLatestSubscription(
  db: Connection,
  members: MemberFind = membershipModels(db).Member.find(),
): AsyncGenerator<[Member, Subscription | undefined]> {
  return joinLatestSubscriptions(
    members.sort({ _id: 1 }).lean<Member>().cursor({ batchSize: 500 }) as AsyncIterable<Member>,
    membershipModels(db)
      .Subscription.find()
      .sort({ memberId: 1 })
      .lean<Subscription>()
      .cursor({ batchSize: 500 }) as AsyncIterable<Subscription>,
  );
}

/**
 * Subscription statuses that bring money in: Stripe's paying ones, and `external` (imported, with the
 * plan and amount the import gave). Every report counts revenue by this one rule. `trialing` is not
 * paying: a trial (in this service, gift time on a subscription) bills nothing until it ends, and is
 * reported apart (`trialValueOf`).
 */
const PAYING = new Set(['active', 'past_due', 'external']);

/**
 * What the subscription bills, as twelfths of a month (a year's worth): from every item and its
 * discounts when the mirror keeps them (mrr.ts), else from the plan's amount and interval (imported
 * plans, mirrors written before the items were kept).
 */
export function billedTwelfths(sub: Subscription, at: Date, priced?: PricedDiscounts) {
  if (sub.billing?.items.length) return billedAt(sub.billing, sub.currency, at, priced);
  return { perPeriod: sub.amount, twelfths: sub.amount * (sub.interval === 'year' ? 1 : 12), unpriced: 0 };
}

/**
 * A member's monthly revenue in twelfths (yearly plans stay exact) while the member is active, from
 * its latest subscription: one that pays, or one canceled when the membership ended (it paid until
 * then). A canceled one under a membership that runs on (gift time) brings nothing. Discounts are
 * judged at `at` (the end of the period the report covers).
 */
export function revenueOf(
  sub: Subscription | undefined,
  member: Pick<Member, 'endedAt'>,
  at: Date,
  priced?: PricedDiscounts,
): { currency: string; twelfths: number; unpriced: number } | undefined {
  if (!sub || !(PAYING.has(sub.status) || (sub.status === 'canceled' && member.endedAt))) return undefined;
  const billed = billedTwelfths(sub, at, priced);
  return { currency: sub.currency, twelfths: billed.twelfths, unpriced: billed.unpriced };
}

/** What a trialing subscription will bill once its trial ends (twelfths), for the trial line. */
export function trialValueOf(
  sub: Subscription | undefined,
  at: Date,
  priced?: PricedDiscounts,
): { currency: string; twelfths: number; unpriced: number } | undefined {
  if (sub?.status !== 'trialing') return undefined;
  const billed = billedTwelfths(sub, at, priced);
  return { currency: sub.currency, twelfths: billed.twelfths, unpriced: billed.unpriced };
}

/** A member at an instant: joined before it, not ended by then. Summary and growth count alike. */
export const activeAt = (member: Pick<Member, 'joinedAt' | 'endedAt'>, at: Date) =>
  member.joinedAt < at && !(member.endedAt && member.endedAt < at);

export const isLater = (s: Subscription, than: Subscription | undefined) =>
  (than?.lastEventCreated ?? -1) <= s.lastEventCreated;

/**
 * Pairs each member with its latest subscription, walking both streams once. Both are sorted by
 * member id; ObjectIds sort as their hex strings, so the streams can be compared as strings.
 */
export async function* joinLatestSubscriptions(
  members: AsyncIterable<Member>,
  subscriptions: AsyncIterable<Subscription>,
): AsyncGenerator<[Member, Subscription | undefined]> {
  const subs = subscriptions[Symbol.asyncIterator]();
  let next = await subs.next();
  for await (const member of members) {
    const id = String(member._id);
    while (!next.done && String(next.value.memberId) < id) next = await subs.next();
    let latest: Subscription | undefined;
    while (!next.done && String(next.value.memberId) === id) {
      if (isLater(next.value, latest)) latest = next.value;
      next = await subs.next();
    }
    yield [member, latest];
  }
  await subs.return?.();
}
