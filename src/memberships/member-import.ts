import type { Connection } from 'mongoose';
import { insertUnique, mapLimit, stableObjectId } from '../infra/bulk.js';
import type { Clock } from '../infra/clock.js';
import { emailKey, listMemberSubscription } from './member-keys.js';
import { ensureMemberKeys, type Member, type MemberStatus, membershipModels } from './membership.model.js';
import { claimFirstTransitions, reconcileSupporter } from './supporter-marks.js';

// Members brought from outside (`npm run import`, src/imports/): a members file, or the customers of
// an adopted Stripe account (stripe-adoption.ts). Each member's `_id` is derived from its address
// and written by an unordered bulk insert (infra/bulk.ts), so a rerun, or a run after a crash,
// changes nothing it already wrote. Nothing is emailed and no `member.joined` is published: they
// were supporters before any drive, so no campaign counts them.

/** One member as a file or a Stripe customer describes them. */
export interface ImportedMember {
  email: string;
  name?: string;
  joinedAt: Date;
  customerId?: string;
  status: MemberStatus;
  labels: string[];
  /** A plan the file names (not a Stripe subscription): kept as a mirror nothing asks Stripe about. */
  subscription?: { plan: string; amount: number; currency: string; interval: string };
  currentPeriodEnd?: Date;
  endedAt?: Date;
}

/** What importing a batch did: each row's member (null: the address is someone else's), and counts. */
export interface ImportedBatch {
  ids: (Member['_id'] | null)[];
  created: number;
  existing: number;
}

/** The member an imported address becomes, the same on every run (a rerun finds it by `_id`). */
export const importedMemberId = (email: string) => stableObjectId(`member:${email}`);

/** Whether an import already wrote the member for this address. */
export async function isImportedMember(db: Connection, email: string): Promise<boolean> {
  return Boolean(await membershipModels(db).Member.exists({ _id: importedMemberId(email) }));
}

/** A dry run's counts: how many of these addresses are no member's yet. Writes nothing. */
export async function countNewMembers(db: Connection, rows: ImportedMember[]): Promise<ImportedBatch> {
  const known = await mapLimit(rows, 8, async (row) =>
    Boolean(await membershipModels(db).MemberKey.exists({ _id: emailKey(row.email) })),
  );
  const existing = known.filter(Boolean).length;
  return { ids: rows.map(() => null), created: rows.length - existing, existing };
}

/**
 * One batch of members: the members (unique `_id` and unique email), then their key documents
 * (`email:`, `customer:`), then a subscription mirror for rows that name a plan. A member whose
 * address already belongs to someone else (a reader who joined through checkout) is left alone.
 */
export async function importMembers(
  deps: { db: Connection; clock: Clock },
  rows: ImportedMember[],
  options: { joinedVia: string; checkpoint?: (stage: string) => void },
): Promise<ImportedBatch> {
  const { Member, Subscription } = membershipModels(deps.db);
  const now = deps.clock.now();
  const docs: Member[] = rows.map((row) => ({
    _id: importedMemberId(row.email),
    email: row.email,
    ...(row.name ? { name: row.name } : {}),
    locale: 'en',
    ...(row.customerId ? { stripeCustomerId: row.customerId } : {}),
    status: row.status,
    source: 'imported',
    joinedAt: row.joinedAt,
    joinedVia: options.joinedVia,
    ...(row.labels.length ? { labels: row.labels } : {}),
    ...(row.currentPeriodEnd ? { currentPeriodEnd: row.currentPeriodEnd } : {}),
    ...(row.endedAt ? { endedAt: row.endedAt } : {}),
    createdAt: now,
    updatedAt: now,
  }));
  // Written around the models (for speed), so the supporters total is kept here: the active
  // members' first transitions are claimed before the members are visible (supporter-marks.ts).
  const active = docs.flatMap((doc, i) => (doc.status === 'active' ? [i] : []));
  const first = await claimFirstTransitions(
    deps.db,
    active.map((i) => String(docs[i]!._id)),
    now,
  );
  const claimedNow = new Set([...first.claimed].map((k) => active[k]!));
  options.checkpoint?.('supporter-claims');
  const inserted = await insertUnique(Member.collection, docs);
  options.checkpoint?.('members');
  // Not inserted: ours from an earlier (perhaps interrupted) run, or another member's address.
  const ours = await mapLimit(
    docs.map((_, i) => i),
    8,
    async (i) => inserted.has(i) || Boolean(await Member.exists({ _id: docs[i]!._id })),
  );
  const mine = docs.filter((_, i) => ours[i]);
  await ensureMemberKeys(deps.db, mine);
  options.checkpoint?.('keys');
  await first.count();
  // One by one, the rest: members from an earlier run, a first transition claimed for an address
  // that turned out to be someone else's, and new members an interrupted run claimed one for.
  await mapLimit(
    docs.filter((_, i) =>
      inserted.has(i) ? !claimedNow.has(i) && docs[i]!.status === 'active' : ours[i] || claimedNow.has(i),
    ),
    8,
    (m) => reconcileSupporter(deps.db, String(m._id), now),
  );
  options.checkpoint?.('supporters');
  const subscriptions = rows.flatMap((row, i) =>
    ours[i] && row.subscription
      ? [
          {
            _id: `import:${docs[i]!._id}`,
            memberId: docs[i]!._id,
            customerId: row.customerId ?? '',
            // Not a Stripe subscription (its id is ours): nothing may ask Stripe about it, so it
            // never looks live to code that would (a gift moving a paying member's next charge).
            status: 'external',
            ...row.subscription,
            cancelAtPeriodEnd: false,
            lastEventCreated: 0,
            lastEventId: 'import',
            source: 'imported',
            createdAt: now,
            updatedAt: now,
          },
        ]
      : [],
  );
  await insertUnique(Subscription.collection, subscriptions);
  // Listed under the member like every mirror, so the account page finds it by primary keys.
  await mapLimit(subscriptions, 8, (s) => listMemberSubscription(deps.db, s.memberId, s._id));
  options.checkpoint?.('subscriptions');
  return {
    ids: docs.map((doc, i) => (ours[i] ? doc._id : null)),
    created: inserted.size,
    existing: docs.length - inserted.size,
  };
}

/**
 * `npm run stripe:replay` rebuilds members from stored Stripe events alone, and what an import
 * brought never came as an event: so the scratch database starts from the imported members (and
 * those a redeemed gift made, which came from our own pages), their keys, adopted mirrors, their
 * adoption observations and subscription lists. A scan of each collection: a CLI's cost, once.
 */
export async function copyImportedMembers(live: Connection, scratch: Connection): Promise<void> {
  const from = membershipModels(live);
  const to = membershipModels(scratch);
  const members = await from.Member.find({ source: { $in: ['imported', 'gift'] } }).lean();
  const memberIds = new Set(members.map((m) => String(m._id)));
  await insertUnique(to.Member.collection, members);
  const keys = await live.collection('member_keys').find().toArray();
  await insertUnique(
    scratch.collection('member_keys'),
    keys.filter((k) => memberIds.has(String(k.memberId))),
  );
  const subscriptions = await from.Subscription.find({ source: 'imported' }).lean();
  await insertUnique(to.Subscription.collection, subscriptions);
  const adopted = new Set(subscriptions.map((s) => s._id));
  const observations = await from.SubscriptionObservation.find().lean();
  await insertUnique(
    to.SubscriptionObservation.collection,
    observations.filter((o) => o.eventId === `import:${o.subscriptionId}`),
  );
  // An imported member's list of subscriptions starts with the adopted ones (slots #0, #1, …).
  const lists = await from.MemberSubscription.find().lean();
  await insertUnique(
    to.MemberSubscription.collection,
    lists.filter((l) => memberIds.has(l._id.split('#')[0]!) && adopted.has(l.subscriptionId)),
  );
}
