import type Stripe from 'stripe';
import { enqueueEmail } from '../email/outbox.service.js';
import { isDuplicateKey } from '../infra/db.js';
import { appendSlot, readSlots } from '../infra/slots.js';
import { idOf } from '../infra/stripe.js';
import { fromUnixSeconds } from '../shared/time.js';
import { findMemberByCustomer, listMemberSubscription } from './member-keys.js';
import { type Member, membershipModels, type SubscriptionObservation } from './membership.model.js';
import { isOursOrAdopted, type MembershipDeps, NotReadyYet, type Outcome } from './membership.service.js';
import { ENDED, memberChange, newestOf, subscriptionState } from './subscription-mirror.js';
import { reconcileSupporter } from './supporter-marks.js';

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
      state: subscriptionState(subscription, memberId, event),
    },
    (stored) => stored.eventId === event.id,
  );

  // The member's list of subscriptions, before anything is decided from it (see memberChange).
  await listMemberSubscription(deps.db, memberId, subscription.id);

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const observations = await readSlots(SubscriptionObservation, subscription.id);
    const newest = newestOf(observations);
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
    // Nothing to change, perhaps because a crash or an outage came between the write and its
    // reconcile: reconciled anyway, so the supporters total is not left behind (supporter-marks.ts).
    await reconcileSupporter(deps.db, String(member._id), deps.clock.now(), member.status);
    // "Your membership has ended" only when it has: not when one of two subscriptions ends.
    if (ENDED.has(newest.state.status) && member.status === 'canceled') {
      await enqueueEmail(deps.db, deps.clock, {
        template: 'membership-canceled',
        to: { email: member.email, name: member.name },
        locale: member.locale,
        data: { name: member.name, rejoinUrl: `${deps.publicBaseUrl}/membership` },
        idempotencyKey: `canceled:${subscription.id}`,
      });
      await deps.events.publish('member.canceled', {
        memberId: String(member._id),
        endedAt: member.endedAt ?? fromUnixSeconds(newest.created),
      });
    }
    return 'applied';
  }
  throw new Error(`subscription ${subscription.id} kept changing under concurrent deliveries`);
}

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
    if (observations.length) newest.push(newestOf(observations));
  }
  return newest;
}
