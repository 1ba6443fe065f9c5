import type { Connection } from 'mongoose';
import { z } from 'zod';
import {
  MEMBER_STATUSES,
  type Member,
  membershipModels,
  type Subscription,
} from '../memberships/membership.model.js';
import { localDateTime, zonedHourToUtc } from '../shared/time.js';
import { isLater, membersWithLatestSubscription } from './member-stream.js';

export const supportersFilterSchema = z.object({
  status: z.enum(MEMBER_STATUSES).optional(),
  plan: z.string().max(40).optional(),
  interval: z.enum(['month', 'year']).optional(),
  currency: z.enum(['usd', 'eur', 'gbp']).optional(),
  source: z.enum(['checkout', 'gift', 'imported']).optional(),
  campaign: z.string().max(60).optional(),
  joinedFrom: z.iso.date().optional(),
  joinedTo: z.iso.date().optional().meta({ description: 'Inclusive' }),
});
export type SupportersFilter = z.infer<typeof supportersFilterSchema>;

/** The columns of the supporters report, in order (documented in the OpenAPI document). */
export const SUPPORTER_COLUMNS = [
  'email',
  'name',
  'status',
  'source',
  'plan',
  'interval',
  'amount',
  'currency',
  'joined_at',
  'current_period_end',
  'campaign',
  'stripe_customer_id',
] as const;
export type SupporterRow = Record<(typeof SUPPORTER_COLUMNS)[number], string | number>;

const BATCH = 500;

function memberQuery(filter: SupportersFilter, startOfDay: (day: string) => Date) {
  const query: Record<string, unknown> = {};
  if (filter.status) query.status = filter.status;
  if (filter.source) query.source = filter.source;
  if (filter.campaign) query.campaign = filter.campaign;
  if (filter.joinedFrom || filter.joinedTo) {
    query.joinedAt = {
      ...(filter.joinedFrom ? { $gte: startOfDay(filter.joinedFrom) } : {}),
      ...(filter.joinedTo ? { $lt: new Date(startOfDay(filter.joinedTo).getTime() + 86_400_000) } : {}),
    };
  }
  return query;
}

type Row = SupporterRow & { _cursor: string };

/** How many members the filters on members select (plan, interval and currency may drop some). */
export function countSupporters(db: Connection, filter: SupportersFilter, timeZone: string): Promise<number> {
  return membershipModels(db).Member.countDocuments(
    memberQuery(filter, (day) => zonedHourToUtc(day, 0, timeZone)),
  );
}

/**
 * Supporters with their latest subscription. A page (JSON) follows _id order from `after` so a
 * cursor can resume, and looks its page's subscriptions up together. A whole export (CSV) reads
 * members and subscriptions as two cursors sorted by member and joins them as they stream:
 * memory stays constant, and no query runs per batch (FerretDB scans a collection for each `$in`).
 */
export async function* supporterRows(
  db: Connection,
  filter: SupportersFilter,
  options: { after?: string; limit?: number; timeZone: string },
): AsyncGenerator<Row> {
  const { Member } = membershipModels(db);
  const query = memberQuery(filter, (day) => zonedHourToUtc(day, 0, options.timeZone));
  const members = Member.find(options.after ? { ...query, _id: { $gt: options.after } } : query).sort({
    _id: 1,
  });
  const pairs =
    options.limit !== undefined
      ? pagedWithSubscriptions(db, members, options.limit, filter)
      : membersWithLatestSubscription(db, members);
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  for await (const [member, sub] of pairs) {
    if (filter.plan && sub?.plan !== filter.plan) continue;
    if (filter.interval && sub?.interval !== filter.interval) continue;
    if (filter.currency && sub?.currency !== filter.currency) continue;
    yield toRow(member, sub, options.timeZone);
    if (--remaining <= 0) return;
  }
}

async function* pagedWithSubscriptions(
  db: Connection,
  members: ReturnType<ReturnType<typeof membershipModels>['Member']['find']>,
  limit: number | undefined,
  filter: SupportersFilter,
): AsyncGenerator<[Member, Subscription | undefined]> {
  // Subscription filters drop rows after the lookup, so a page may need more members than its limit.
  const bounded =
    limit && !filter.plan && !filter.interval && !filter.currency ? members.limit(limit) : members;
  let batch: Member[] = [];
  const flush = async function* () {
    const subscriptions = await membershipModels(db)
      .Subscription.find({ memberId: { $in: batch.map((m) => m._id) } })
      .lean<Subscription[]>();
    const latest = new Map<string, Subscription>();
    for (const s of subscriptions)
      if (isLater(s, latest.get(String(s.memberId)))) latest.set(String(s.memberId), s);
    for (const member of batch)
      yield [member, latest.get(String(member._id))] as [Member, Subscription | undefined];
    batch = [];
  };
  for await (const member of bounded.lean<Member>().cursor({ batchSize: BATCH })) {
    batch.push(member as Member);
    if (batch.length === BATCH) yield* flush();
  }
  if (batch.length) yield* flush();
}

function toRow(member: Member, sub: Subscription | undefined, timeZone: string): Row {
  return {
    _cursor: String(member._id),
    email: member.email,
    name: member.name ?? '',
    status: member.status,
    source: member.source,
    plan: sub?.plan ?? (member.source === 'gift' ? 'gift' : ''),
    interval: sub?.interval ?? '',
    amount: sub?.amount ?? '',
    currency: sub?.currency ?? '',
    joined_at: localDateTime(member.joinedAt, timeZone),
    current_period_end: member.currentPeriodEnd ? localDateTime(member.currentPeriodEnd, timeZone) : '',
    campaign: member.campaign ?? '',
    stripe_customer_id: member.stripeCustomerId ?? '',
  };
}
