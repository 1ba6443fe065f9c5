import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import { emailModels } from '../email/email.model.js';
import { giftModel } from '../gifts/gift.model.js';
import { ledgerModel } from '../ledger/ledger.model.js';
import { findMemberByEmail } from '../memberships/member-keys.js';
import { type Member, membershipModels } from '../memberships/membership.model.js';
import { newsletterModels } from '../newsletters/newsletter.model.js';

// Member lookup for staff answering a reader's email (admin, finance). An address is found by
// primary keys (the member's email key); a name can only be found by scanning members, so that
// search is bounded and staff-only. Everything on a member's page is capped at PER_LIST rows.

export const NAME_RESULTS = 20;
const PER_LIST = 50;

export type MemberSearch =
  | { by: 'email'; members: Member[] }
  | { by: 'name'; members: Member[]; more: boolean }
  | { by: 'none'; members: [] };

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function searchMembers(db: Connection, query: string): Promise<MemberSearch> {
  const q = query.trim();
  if (q.includes('@')) {
    const member = await findMemberByEmail(db, q.toLowerCase());
    return { by: 'email', members: member ? [member] : [] };
  }
  if (q.length < 2) return { by: 'none', members: [] };
  const members = await membershipModels(db)
    .Member.find({ name: { $regex: escapeRegex(q), $options: 'i' } })
    .limit(NAME_RESULTS + 1)
    .lean<Member[]>();
  return { by: 'name', members: members.slice(0, NAME_RESULTS), more: members.length > NAME_RESULTS };
}

/** Everything staff need to answer a reader: status, plan, subscriptions, money, gifts, emails, consent. */
export async function memberRecord(db: Connection, id: string) {
  if (!Types.ObjectId.isValid(id)) return undefined;
  const { Member, Subscription } = membershipModels(db);
  const member = await Member.findById(id).lean<Member>();
  if (!member) return undefined;
  const { EmailJob, EmailEvent } = emailModels(db);
  const { Consent, Subscription: Newsletter } = newsletterModels(db);
  const [subscriptions, ledger, gifts, emails, events, consent, newsletters] = await Promise.all([
    Subscription.find({ memberId: member._id }).limit(PER_LIST).lean(),
    ledgerModel(db).find({ memberId: member._id }).sort({ occurredAt: -1 }).limit(PER_LIST).lean(),
    giftModel(db)
      .find({ $or: [{ 'purchaser.email': member.email }, { 'recipient.email': member.email }] })
      .sort({ createdAt: -1 })
      .limit(PER_LIST)
      .lean(),
    EmailJob.find({ 'to.email': member.email }).sort({ createdAt: -1 }).limit(PER_LIST).lean(),
    EmailEvent.find({ email: member.email })
      .sort({ occurredAt: 1 })
      .limit(PER_LIST * 4)
      .lean(),
    Consent.find({ email: member.email }).sort({ at: -1 }).limit(PER_LIST).lean(),
    Newsletter.find({ email: member.email }).limit(PER_LIST).lean(),
  ]);
  const eventsByJob = new Map<string, typeof events>();
  for (const event of events) {
    if (!event.jobId) continue;
    eventsByJob.set(event.jobId, [...(eventsByJob.get(event.jobId) ?? []), event]);
  }
  return {
    member,
    subscriptions,
    ledger,
    gifts,
    emails: emails.map((job) => ({ ...job, events: eventsByJob.get(String(job._id)) ?? [] })),
    consent,
    newsletters,
  };
}
