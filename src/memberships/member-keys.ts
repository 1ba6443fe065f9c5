import { type Connection, Types } from 'mongoose';
import { isDuplicateKey } from '../infra/db.js';
import { readSlots } from '../infra/slots.js';
import {
  customerKey,
  emailKey,
  ensureMemberKeys,
  listMemberSubscription,
  type Member,
  type MemberKey,
  membershipModels,
  type Subscription,
} from './membership.model.js';

// A member is found by email (every checkout, renewal and sign-in) and by Stripe customer id (every
// subscription event and refund). On FerretDB only a filter that is exactly `{_id}` uses an index;
// `{email}` decodes every member (about a second at 10,000). So each natural key of a member is
// also the `_id` of a small key document naming the member: two primary-key reads instead of a scan,
// on every backend.
//
// The invariant "every member has its keys" is kept by: ensureMemberKeys() on every write that sets
// an email or customer id (the Member.create/insertMany hooks in membership.model.ts, which owns the
// key documents), and backfillMemberKeys() once at start for members written before the keys existed.

const keyModel = (db: Connection) => membershipModels(db).MemberKey;

export { customerKey, emailKey, ensureMemberKeys, listMemberSubscription };

async function memberByKey(db: Connection, key: string): Promise<Member | null> {
  const found = await keyModel(db).findById(key).lean<MemberKey>();
  return found ? membershipModels(db).Member.findById(found.memberId).lean<Member>() : null;
}

/** The member with this (normalized) email, by primary keys only. */
export const findMemberByEmail = (db: Connection, email: string) => memberByKey(db, emailKey(email));

/** The member whose Stripe customer this is, by primary keys only. */
export const findMemberByCustomer = (db: Connection, customerId: string) =>
  memberByKey(db, customerKey(customerId));

/** The member with this id, if any. */
export const findMemberById = (db: Connection, memberId: Types.ObjectId | string) =>
  membershipModels(db).Member.findById(memberId).lean<Member>();

/** The id of the member this (normalized) email belongs to, without reading the member. */
export async function memberIdOfEmail(db: Connection, email: string): Promise<Types.ObjectId | undefined> {
  return (await keyModel(db).findById(emailKey(email)).lean<MemberKey>())?.memberId;
}

/**
 * Claims `key` for `memberId`. The first writer of a key owns it; returns the owner. An email or a
 * Stripe customer names one member for good, so an existing key is never moved here.
 */
export async function claimMemberKey(
  db: Connection,
  key: string,
  memberId: Types.ObjectId,
): Promise<Types.ObjectId> {
  try {
    await keyModel(db).create({ _id: key, memberId });
    return memberId;
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    const owner = await keyModel(db).findById(key).lean<MemberKey>();
    return owner!.memberId;
  }
}

/**
 * The member with this email, created with `fields` if there is none: the email key is claimed
 * first, so however many callers race (or a caller crashed half-way), one id wins and the member is
 * created under it exactly once. Returns whether this call created it.
 */
export async function createMemberOnce(
  db: Connection,
  fields: Omit<Member, '_id' | 'createdAt' | 'updatedAt'>,
): Promise<{ member: Member; created: boolean }> {
  const { Member } = membershipModels(db);
  const existing = await findMemberByEmail(db, fields.email);
  if (existing) return { member: existing, created: false };
  const id = await claimMemberKey(db, emailKey(fields.email), new Types.ObjectId());
  try {
    const member = (await Member.create({ ...fields, _id: id })).toObject<Member>();
    return { member, created: true };
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    const byId = await Member.findById(id).lean<Member>();
    if (byId) return { member: byId, created: false }; // a racing caller created it under the same id
    // A member from before the keys existed (not yet backfilled): the one scan, then the key is healed.
    const legacy = (await Member.findOne({ email: fields.email }).lean<Member>())!;
    await keyModel(db).updateOne({ _id: emailKey(fields.email) }, { $set: { memberId: legacy._id } });
    return { member: legacy, created: false };
  }
}

/**
 * Gives every member written before the keys existed its keys: a scan of the members, run once per
 * database at start (infra/migrations.ts). Returns how many members it went through.
 */
export async function backfillMemberKeys(db: Connection): Promise<number> {
  let done = 0;
  let batch: Pick<Member, '_id' | 'email' | 'stripeCustomerId'>[] = [];
  const cursor = membershipModels(db)
    .Member.find()
    .select({ email: 1, stripeCustomerId: 1 })
    .lean<Pick<Member, '_id' | 'email' | 'stripeCustomerId'>[]>()
    .cursor();
  for await (const member of cursor) {
    batch.push(member);
    if (batch.length === 500) {
      await ensureMemberKeys(db, batch);
      done += batch.length;
      batch = [];
    }
  }
  await ensureMemberKeys(db, batch);
  return done + batch.length;
}

/** The member's subscription mirrors, by primary keys (their `member_subscriptions` list). */
export async function subscriptionsOf(db: Connection, memberId: Types.ObjectId | string) {
  const { Subscription, MemberSubscription } = membershipModels(db);
  const found: Subscription[] = [];
  for (const { subscriptionId } of await readSlots(MemberSubscription, String(memberId))) {
    const mirror = await Subscription.findById(subscriptionId).lean<Subscription>();
    if (mirror) found.push(mirror);
  }
  return found;
}

/** The member's subscription that is paying now (active, trialing or past due), if any. */
export async function payingSubscriptionOf(db: Connection, memberId: Types.ObjectId | string) {
  return (await subscriptionsOf(db, memberId)).find((s) =>
    ['active', 'trialing', 'past_due'].includes(s.status),
  );
}

/** Lists every stored subscription under its member, for mirrors written before the lists were kept. */
export async function backfillMemberSubscriptions(db: Connection): Promise<number> {
  let done = 0;
  const mirrors = membershipModels(db).Subscription.find().select({ memberId: 1 }).lean<Subscription[]>();
  for await (const s of mirrors.cursor()) {
    if (!s.memberId) continue;
    await listMemberSubscription(db, s.memberId, s._id);
    done++;
  }
  return done;
}
