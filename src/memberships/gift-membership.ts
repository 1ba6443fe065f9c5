import { type Connection, Types } from 'mongoose';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { addMonths } from '../shared/time.js';
import { claimMemberKey, emailKey, payingSubscriptionOf, subscriptionsOf } from './member-keys.js';
import { ensureMemberKeys, type GiftMemberEnd, type Member, membershipModels } from './membership.model.js';

// The member writes of gifts (src/gifts/): a redeemed gift makes or extends a membership, a paying
// member's next charge moves back, a refund or the end of gift time ends it. Gifts decides when
// (its claim per gift, its list of gift time); memberships is the one writer of the member.

/**
 * The id the member with this (normalized) email has or will have: claiming the email's key names
 * the member-to-be, so every gift redeemed by one new address, however concurrently, plans the same
 * member (createMemberOnce's rule: the first claim of the key wins).
 */
export const reserveMemberId = (db: Connection, email: string) =>
  claimMemberKey(db, emailKey(email), new Types.ObjectId());

/** A new member made by a gift, under the id reserveMemberId gave; a retry after a crash finishes it. */
export async function createGiftMember(
  deps: { db: Connection; events: DomainEvents },
  input: {
    memberId: Types.ObjectId;
    email: string;
    name: string;
    locale: string;
    giftId: string;
    months: number;
    at: Date;
  },
): Promise<void> {
  const { memberId, email, at } = input;
  // Listed first: a member a gift made is always on the sweep's list (a retry lists it again).
  await listGiftEnd(deps.db, memberId, addMonths(at, input.months));
  try {
    await membershipModels(deps.db).Member.create({
      _id: memberId,
      email,
      name: input.name,
      locale: input.locale,
      status: 'active',
      source: 'gift',
      joinedAt: at,
      joinedVia: `gift:${input.giftId}`,
      currentPeriodEnd: addMonths(at, input.months),
    });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error; // created by a racing redemption under the same id
  }
  // The create's hook writes the member's keys; a finish after a crash makes sure they exist.
  await ensureMemberKeys(deps.db, [{ _id: memberId, email }]);
  // Published on every finish: listeners are idempotent, and a crash must not lose it.
  await deps.events.publish('member.joined', {
    memberId: String(memberId),
    email,
    joinedAt: at,
    source: 'gift',
  });
}

/** A gift to a paying member: their next charge (already moved in Stripe) moves in the mirror and member. */
export async function moveNextCharge(
  db: Connection,
  input: { memberId: Types.ObjectId; subscriptionId: string; nextCharge: Date },
): Promise<void> {
  const { Member, Subscription } = membershipModels(db);
  await Subscription.updateOne(
    { _id: input.subscriptionId },
    { $set: { currentPeriodEnd: input.nextCharge } },
  );
  await Member.updateOne({ _id: input.memberId }, { $set: { currentPeriodEnd: input.nextCharge } });
}

/**
 * Writes the member's status and end from the end of their gift time (undefined: none left). A
 * member with a paid subscription is left to it. Returns false when nothing was written (no such
 * member, or paying).
 */
export async function setGiftTimeEnd(
  deps: { db: Connection; clock: Clock },
  memberId: Types.ObjectId,
  end: Date | undefined,
  at: Date,
): Promise<boolean> {
  const { Member } = membershipModels(deps.db);
  const member = await Member.findById(memberId).select({ stripeCustomerId: 1, source: 1 }).lean();
  // Only a member who has been a Stripe customer can have a subscription: no scan for the others.
  const paying = member?.stripeCustomerId && (await payingSubscriptionOf(deps.db, memberId));
  if (!member || paying) return false;
  const active = end && end > deps.clock.now();
  await Member.updateOne(
    { _id: memberId },
    active
      ? { $set: { status: 'active', currentPeriodEnd: end, endedAt: null } }
      : { $set: { status: 'expired', currentPeriodEnd: at, endedAt: at } },
  );
  // After the member: a sweep that unlisted it meanwhile reads the member again (giftMembersEndingBy).
  if (active && member.source === 'gift') await listGiftEnd(deps.db, memberId, end);
  return true;
}

/** A refunded gift redeemed before gift time was recorded: the membership it started ends. */
export async function endGiftMembership(db: Connection, memberId: Types.ObjectId, at: Date): Promise<void> {
  const { Member } = membershipModels(db);
  const member = await Member.findById(memberId).lean<Member>();
  if (member?.source === 'gift')
    await Member.updateOne(
      { _id: member._id },
      { $set: { status: 'expired', currentPeriodEnd: at, endedAt: at } },
    );
}

const listGiftEnd = (db: Connection, memberId: Types.ObjectId, endsAt: Date) =>
  membershipModels(db).GiftMemberEnd.updateOne(
    { _id: String(memberId) },
    { $set: { endsAt } },
    { upsert: true },
  );

/**
 * Active members a gift made whose gift time ends by `by`, for the hourly sweep: from the list of
 * gift members' ends, each due one read by `_id` (the member says when it really ends; the list is
 * brought in line). A member no longer active leaves the list, then is read again, so a gift that
 * renewed it meanwhile (which lists it after writing it) is never lost.
 */
export async function giftMembersEndingBy(db: Connection, by: Date): Promise<Member[]> {
  const { Member, GiftMemberEnd } = membershipModels(db);
  const ending: Member[] = [];
  const listed = await GiftMemberEnd.find().lean<GiftMemberEnd[]>();
  for (const { _id, endsAt } of listed.filter((entry) => entry.endsAt <= by)) {
    let member = await Member.findById(_id).lean<Member>();
    if (!isGiftTime(member)) {
      await GiftMemberEnd.deleteOne({ _id });
      member = await Member.findById(_id).lean<Member>();
      if (!isGiftTime(member)) continue;
    }
    if (member.currentPeriodEnd.getTime() !== endsAt.getTime())
      await listGiftEnd(db, member._id, member.currentPeriodEnd);
    if (member.currentPeriodEnd <= by) ending.push(member);
  }
  return ending;
}

const isGiftTime = (member: Member | null): member is Member & { currentPeriodEnd: Date } =>
  member?.source === 'gift' && member.status === 'active' && member.currentPeriodEnd instanceof Date;

/** Lists the active members gifts made before the list was kept (a migration: one scan). */
export async function backfillGiftMemberEnds(db: Connection): Promise<number> {
  let listed = 0;
  const members = membershipModels(db).Member.find({ source: 'gift', status: 'active' }).lean<Member>();
  for await (const member of members.cursor()) {
    if (!isGiftTime(member)) continue;
    await listGiftEnd(db, member._id, member.currentPeriodEnd);
    listed++;
  }
  return listed;
}

/** Whether the member has a subscription that is active or trialing: read from their list, not searched. */
export async function hasLiveSubscription(db: Connection, memberId: Types.ObjectId): Promise<boolean> {
  return (await subscriptionsOf(db, memberId)).some((s) => ['active', 'trialing'].includes(s.status));
}

/**
 * A gift membership whose time is over expires (only if it is still active): read, then written,
 * by `_id` alone, the one filter FerretDB answers from its index (ADR 0001 on the window between).
 */
export async function expireGiftMember(db: Connection, member: Pick<Member, '_id'>, endedAt: Date) {
  const { Member } = membershipModels(db);
  const stored = await Member.findById(member._id).select({ status: 1 }).lean<Pick<Member, 'status'>>();
  if (stored?.status === 'active')
    await Member.updateOne({ _id: member._id }, { $set: { status: 'expired', endedAt } });
}
