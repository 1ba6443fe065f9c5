import { normalizeEmail } from '../email/suppression.service.js';
import type { Attribution } from '../shared/attribution.js';
import { claimMemberKey, createMemberOnce, customerKey, findMemberByCustomer } from './member-keys.js';
import { type Member, membershipModels } from './membership.model.js';
import type { MembershipDeps } from './membership.service.js';
import { reconcileSupporter } from './supporter-marks.js';

// The member writes Stripe's payments make (checkout sessions and invoices). Every other writer of
// members is also in memberships: gift-membership.ts (gifts), member-import.ts and
// stripe-adoption.ts (imports), subscription.events.ts (status from subscriptions).

/**
 * Makes the reader a member, once: the unique email decides who is first. The first time is
 * "joining" and is published to the rest of the app; later calls only bring the record up to date.
 */
export async function ensureMember(
  deps: MembershipDeps,
  input: {
    email: string;
    name?: string;
    locale?: string;
    customerId?: string;
    via: string;
    at: Date;
    campaign?: string;
    attribution?: Attribution;
    /** Money arrived with this payment (not a $0 trial or 100 % promotion code invoice). */
    paid: boolean;
  },
): Promise<Member> {
  const email = normalizeEmail(input.email);
  // A known Stripe customer is a known member, whatever address the event carries: a reader who
  // changed their email in Stripe (or the Customer Portal) stays one member, counted once.
  const known = input.customerId ? await findMemberByCustomer(deps.db, input.customerId) : null;
  const { member, created } = known
    ? { member: known, created: false }
    : await createMemberOnce(deps.db, {
        email,
        name: input.name,
        locale: input.locale ?? 'en',
        stripeCustomerId: input.customerId,
        status: 'active',
        source: 'checkout',
        joinedAt: input.at,
        joinedVia: input.via,
        joinedPaying: input.paid,
        campaign: input.campaign,
        attribution: input.attribution,
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
  // A member made just now was reconciled by its write. Otherwise this may be a retry after a crash
  // between a write and its reconcile, which would leave the supporters total behind until the
  // daily audit (supporter-marks.ts).
  if (!created) await reconcileSupporter(deps.db, String(member._id), input.at, member.status);
  if (member.joinedVia === input.via) {
    await deps.events.publish('member.joined', {
      memberId: String(member._id),
      email: member.email,
      joinedAt: member.joinedAt,
      source: member.source,
      campaign: member.campaign,
      attribution: member.attribution,
      // As the member was made, so every delivery tells the same (absent: from before it was kept).
      paid: member.joinedPaying !== false,
    });
  }
  return member;
}

/** A lapsed member who came back through checkout is active again (they joined long ago). */
export async function reactivateMember(deps: Pick<MembershipDeps, 'db'>, memberId: Member['_id']) {
  await membershipModels(deps.db).Member.updateOne({ _id: memberId }, { $set: { status: 'active' } });
}
