import type { Connection, Types } from 'mongoose';
import type Stripe from 'stripe';
import { insertUnique, mapLimit } from '../infra/bulk.js';
import type { Clock } from '../infra/clock.js';
import { appendSlot } from '../infra/slots.js';
import { idOf } from '../infra/stripe.js';
import { fromUnixSeconds } from '../shared/time.js';
import { countNewMembers, type ImportedMember, importedMemberId, importMembers } from './member-import.js';
import { claimMemberKey, customerKey, findMemberByCustomer, memberIdOfEmail } from './member-keys.js';
import { type MemberStatus, membershipModels, type SubscriptionObservation } from './membership.model.js';
import { memberStatusOf, STATUS_PRECEDENCE, subscriptionState } from './subscription-mirror.js';
import { reconcileSupporter } from './supporter-marks.js';

// The members and subscription mirrors of an adopted Stripe account (`npm run import -- stripe`,
// src/imports/stripe-adopt.ts walks the account and records its money): every customer with a
// subscription that is not ours becomes a member marked `imported`, with the date they really
// joined; each such subscription gets its mirror and an observation, derived by the same mapping
// as its later events (subscription-mirror.ts), so those events decide the member's status as for
// our own. Every record's `_id` is its Stripe id (or its member's address): a rerun changes nothing.

/** The member a customer's subscriptions make: the best status, the latest period end, the first start. */
function memberRowOf(customer: Stripe.Customer, subs: Stripe.Subscription[]): ImportedMember {
  const statuses = subs.map((s) => memberStatusOf(s.status)).filter((s): s is MemberStatus => Boolean(s));
  const status = STATUS_PRECEDENCE.find((s) => statuses.includes(s)) ?? 'canceled';
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

/** One batch of customers: members (or the member who already has the address), mirrors, observations. */
export async function adoptStripeMembers(
  deps: { db: Connection; clock: Clock },
  customers: Stripe.Customer[],
  subsOf: Map<string, Stripe.Subscription[]>,
  memberOf: Map<string, Types.ObjectId>,
  options: { dryRun?: boolean; checkpoint?: (stage: string) => void },
): Promise<{ created: number; existing: number }> {
  const { Member, Subscription, SubscriptionObservation, MemberSubscription } = membershipModels(deps.db);
  // A customer who is already a member (our own checkout, or a members file naming the customer).
  const known = await mapLimit(customers, 8, (c) => findMemberByCustomer(deps.db, c.id));
  const fresh = customers.filter((_, i) => !known[i]);
  const rows = fresh.map((c) => memberRowOf(c, subsOf.get(c.id)!));
  const batch = options.dryRun
    ? await countNewMembers(deps.db, rows)
    : await importMembers(deps, rows, { joinedVia: 'import:stripe', checkpoint: options.checkpoint });
  const counts = { created: batch.created, existing: batch.existing + customers.length - fresh.length };
  if (options.dryRun) {
    // Who they would be, so the dry run counts their invoices too.
    customers.forEach((c, i) => {
      memberOf.set(c.id, known[i]?._id ?? importedMemberId(c.email!.trim().toLowerCase()));
    });
    return counts;
  }
  const owners = batch.ids;
  // Not ours: the address belongs to a member already (a reader who also joined through checkout).
  const resolved = await mapLimit(
    fresh.map((c, i) => [c, i] as const),
    8,
    async ([c, i]) => {
      if (owners[i]) return owners[i]!;
      const owner = await memberIdOfEmail(deps.db, rows[i]!.email);
      if (owner) await claimMemberKey(deps.db, customerKey(c.id), owner);
      return owner ?? null;
    },
  );
  customers.forEach((c, i) => {
    const id = known[i]?._id ?? resolved[fresh.indexOf(c)];
    if (id) memberOf.set(c.id, id);
  });
  // A member a members file brought (imported, linked by customer id) takes the status Stripe has;
  // written only when it differs, so a second run changes nothing. Unwritten, it is reconciled: a
  // run stopped before counting its new members finds them here on the next run (as `known`).
  const now = deps.clock.now();
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
      else await reconcileSupporter(deps.db, String(member._id), now, member.status);
    },
  );
  const subs = customers.flatMap((c) => (memberOf.has(c.id) ? subsOf.get(c.id)! : []));
  await insertUnique(
    Subscription.collection,
    subs.map((sub) => ({
      _id: sub.id,
      ...subscriptionState(sub, memberOf.get(idOf(sub.customer)!)!),
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
        {
          subscriptionId: sub.id,
          eventId: `import:${sub.id}`,
          created: 0,
          state: subscriptionState(sub, memberId),
        },
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
  return counts;
}
