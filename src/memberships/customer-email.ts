import { type Connection, Schema } from 'mongoose';
import type Stripe from 'stripe';
import { normalizeEmail } from '../email/suppression.service.js';
import { isDuplicateKey } from '../infra/db.js';
import { appendSlot, readSlots } from '../infra/slots.js';
import { claimMemberKey, emailKey, findMemberByCustomer } from './member-keys.js';
import { type Member, membershipModels } from './membership.model.js';
import type { MembershipDeps, Outcome } from './membership.service.js';

// customer.updated: a member changed their email in the Customer Portal (or staff changed it in
// Stripe). The member follows, under the rules every address follows:
// - one member per address: the new address is claimed by inserting its key `email:<address>`
//   (member-keys.ts). If another member holds it, two readers would be merged; that is never done
//   silently: the member keeps the address they had and the conflict is logged for staff.
// - a key names its member for good (as everywhere): the old address still finds this member, so a
//   later checkout from it is the same reader, not a second membership. Mail goes to the current
//   address only (sign-in links, receipts), so the old address cannot sign in.
// - events arrive out of order and at once: each one's address is an immutable observation; the
//   member's email is the newest observation's (Stripe's `created`, then event id), reached by
//   writing and re-reading until they agree, never decided from a read that is not checked again.
// Newsletter subscriptions are not moved: each was confirmed by the address it belongs to (double
// opt-in), and the new address has confirmed nothing.

/** What one customer.updated said the address was: slots `<cus_…>#<n>`, never changed. */
export interface CustomerEmailObservation {
  _id: string;
  customerId: string;
  eventId: string;
  created: number;
  email: string;
}

const observationSchema = new Schema<CustomerEmailObservation>(
  {
    _id: String,
    customerId: { type: String, required: true },
    eventId: { type: String, required: true },
    created: { type: Number, required: true },
    email: { type: String, required: true },
  },
  { versionKey: false },
);

export function registerCustomerEmailModel(db: Connection): void {
  if (!db.models.CustomerEmailObservation)
    db.model('CustomerEmailObservation', observationSchema, 'customer_email_observations');
}

const observations = (db: Connection) => db.model<CustomerEmailObservation>('CustomerEmailObservation');

const isNewer = (a: CustomerEmailObservation, b: CustomerEmailObservation) =>
  a.created !== b.created ? a.created > b.created : a.eventId > b.eventId;

const MAX_ROUNDS = 20;

export async function applyCustomerUpdated(
  deps: MembershipDeps,
  customer: Stripe.Customer,
  event: { id: string; created: number },
): Promise<Outcome> {
  if (!customer.email) return 'ignored';
  const found = await findMemberByCustomer(deps.db, customer.id);
  if (!found) return 'ignored'; // not a member (a one-time contributor, another app's customer)
  const Observation = observations(deps.db);
  await appendSlot(
    Observation,
    customer.id,
    {
      customerId: customer.id,
      eventId: event.id,
      created: event.created,
      email: normalizeEmail(customer.email),
    },
    (stored) => stored.eventId === event.id,
  );
  const { Member } = membershipModels(deps.db);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const seen = await readSlots(Observation, customer.id);
    const newest = seen.reduce((a, b) => (isNewer(b, a) ? b : a));
    const member = await Member.findById(found._id).lean<Member>();
    if (!member) throw new Error(`member ${found._id} is gone`);
    if (member.email === newest.email) return 'applied';
    const owner = await claimMemberKey(deps.db, emailKey(newest.email), member._id);
    if (!owner.equals(member._id)) {
      deps.logger.warn(
        {
          memberId: String(member._id),
          otherMemberId: String(owner),
          customerId: customer.id,
          eventId: newest.eventId,
        },
        'a member changed their email in Stripe to an address another member has: kept the old one, not merged',
      );
      return 'applied';
    }
    try {
      await Member.updateOne({ _id: member._id }, { $set: { email: newest.email } });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // A member from before the keys existed holds the address in its own field.
      deps.logger.warn(
        { memberId: String(member._id), customerId: customer.id },
        'a member changed their email in Stripe to an address an older member record has: kept the old one',
      );
      return 'applied';
    }
  }
  throw new Error(`customer ${customer.id} kept changing under concurrent deliveries`);
}
