import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import { type AddressItem, readAddressLists } from '../email/address-records.js';
import { type EmailEvent, type EmailJob, emailModels } from '../email/email.model.js';
import { type Gift, giftModel } from '../gifts/gift.model.js';
import { mapLimit } from '../infra/bulk.js';
import { ledgerEntriesOf } from '../ledger/member-entries.js';
import { findMemberByEmail, findMemberById, subscriptionsOf } from '../memberships/member-keys.js';
import { type Member, membershipModels } from '../memberships/membership.model.js';
import {
  type ConsentRecord,
  type NewsletterSubscription,
  newsletterModels,
} from '../newsletters/newsletter.model.js';

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
export async function memberRecord(db: Connection, id: string, now: Date) {
  if (!Types.ObjectId.isValid(id)) return undefined;
  const member = await findMemberById(db, id);
  if (!member) return undefined;
  // Every record below is found by primary key: the member's own lists (subscriptions, ledger
  // entries) and what is listed under their address (email/address-records.ts), newest last.
  const { email } = member;
  const { EmailJob, EmailEvent } = emailModels(db);
  const { Consent, Subscription: Newsletter } = newsletterModels(db);
  const { items, recent } = await readAddressLists(db, email, now);
  const newest = (list: AddressItem[], kind: AddressItem['kind'], limit = PER_LIST) =>
    list
      .filter((i) => i.kind === kind)
      .map((i) => i.ref)
      .slice(-limit);
  const byId = <T>(refs: string[], read: (ref: string) => Promise<T | null>) =>
    mapLimit(refs, 16, read).then((found) => found.filter((r): r is NonNullable<T> => r !== null));
  const [subscriptions, ledger, gifts, emails, events, consent, newsletters] = await Promise.all([
    subscriptionsOf(db, member._id).then((s) => s.slice(0, PER_LIST)),
    ledgerEntriesOf(db, member._id, PER_LIST),
    byId(newest(items, 'gift'), (ref) => giftModel(db).findById(ref).lean<Gift>()),
    byId(newest(items, 'email-job'), (ref) => EmailJob.findById(ref).lean<EmailJob>()),
    byId(newest(recent, 'email-event', PER_LIST * 4), (ref) => EmailEvent.findById(ref).lean<EmailEvent>()),
    byId(newest(items, 'consent'), (ref) => Consent.findById(ref).lean<ConsentRecord>()),
    byId(newest(items, 'subscription'), (list) =>
      Newsletter.findById(`${list}:${email}`).lean<NewsletterSubscription>(),
    ),
  ]);
  const eventsByJob = new Map<string, EmailEvent[]>();
  for (const event of events.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime())) {
    if (!event.jobId || event.email !== email) continue;
    eventsByJob.set(event.jobId, [...(eventsByJob.get(event.jobId) ?? []), event]);
  }
  const newestFirst =
    <T>(at: (r: T) => Date | undefined) =>
    (a: T, b: T) =>
      (at(b)?.getTime() ?? 0) - (at(a)?.getTime() ?? 0);
  return {
    member,
    subscriptions,
    ledger,
    // A listed record that no longer names the address (a gift's recipient changed) is not theirs.
    gifts: gifts
      .filter((g) => g.purchaser.email === email || g.recipient.email === email)
      .sort(newestFirst((g) => g.createdAt)),
    emails: emails
      .filter((job) => job.to.email === email)
      .sort(newestFirst((job) => job.createdAt))
      .map((job) => ({ ...job, events: eventsByJob.get(String(job._id)) ?? [] })),
    consent: consent.filter((c) => c.email === email).sort(newestFirst((c) => c.at)),
    newsletters: newsletters.sort((a, b) => a.list.localeCompare(b.list)),
  };
}
