import type { Connection } from 'mongoose';
import { z } from 'zod';
import { type Member, membershipModels, type Subscription } from '../memberships/membership.model.js';
import { localDateTime, zonedHourToUtc } from '../shared/time.js';

export const supportersFilterSchema = z.object({
  status: z.enum(['active', 'past_due', 'canceled', 'expired']).optional(),
  plan: z.string().max(40).optional(),
  interval: z.enum(['month', 'year']).optional(),
  currency: z.enum(['usd', 'eur', 'gbp']).optional(),
  source: z.enum(['checkout', 'gift']).optional(),
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

/**
 * Supporters in _id order (a stable cursor for paging) from one database cursor, with each batch's
 * latest subscriptions looked up together. Memory stays constant whatever the number of members.
 */
export async function* supporterRows(
  db: Connection,
  filter: SupportersFilter,
  options: { after?: string; limit?: number; paged?: boolean; timeZone: string },
): AsyncGenerator<SupporterRow & { _cursor: string }> {
  const { Member } = membershipModels(db);
  const query = memberQuery(filter, (day) => zonedHourToUtc(day, 0, options.timeZone));
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  // Pages (JSON) follow _id order so a cursor can resume; a whole export (CSV) needs no order, and
  // an unsorted cursor lets the server stream it instead of sorting every member in memory first.
  let find = Member.find(options.after ? { ...query, _id: { $gt: options.after } } : query);
  if (options.paged) find = find.sort({ _id: 1 });
  // Subscription filters drop rows after the lookup, so a page may need more members than its limit.
  if (Number.isFinite(remaining) && !filter.plan && !filter.interval && !filter.currency)
    find = find.limit(remaining);
  let batch: Member[] = [];
  for await (const member of find.lean<Member>().cursor({ batchSize: BATCH })) {
    batch.push(member as Member);
    if (batch.length < BATCH) continue;
    for (const row of await rowsOf(db, batch, filter, options.timeZone)) {
      yield row;
      if (--remaining <= 0) return;
    }
    batch = [];
  }
  for (const row of await rowsOf(db, batch, filter, options.timeZone)) {
    yield row;
    if (--remaining <= 0) return;
  }
}

async function rowsOf(db: Connection, members: Member[], filter: SupportersFilter, timeZone: string) {
  if (members.length === 0) return [];
  const subscriptions = await membershipModels(db)
    .Subscription.find({ memberId: { $in: members.map((m) => m._id) } })
    .lean<Subscription[]>();
  const latest = new Map<string, Subscription>();
  for (const s of subscriptions) {
    const key = String(s.memberId);
    if ((latest.get(key)?.lastEventCreated ?? -1) <= s.lastEventCreated) latest.set(key, s);
  }
  const rows: (SupporterRow & { _cursor: string })[] = [];
  for (const member of members) {
    const sub = latest.get(String(member._id));
    if (filter.plan && sub?.plan !== filter.plan) continue;
    if (filter.interval && sub?.interval !== filter.interval) continue;
    if (filter.currency && sub?.currency !== filter.currency) continue;
    rows.push({
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
    });
  }
  return rows;
}
