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
 * Supporters one batch at a time, in _id order (a stable cursor): members, with their latest
 * subscription looked up per batch. Memory stays constant whatever the number of members.
 */
export async function* supporterRows(
  db: Connection,
  filter: SupportersFilter,
  options: { after?: string; limit?: number; timeZone: string },
): AsyncGenerator<SupporterRow & { _cursor: string }> {
  const { Member, Subscription } = membershipModels(db);
  const query = memberQuery(filter, (day) => zonedHourToUtc(day, 0, options.timeZone));
  let after = options.after;
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  while (remaining > 0) {
    const members = await Member.find(after ? { ...query, _id: { $gt: after } } : query)
      .sort({ _id: 1 })
      .limit(Math.min(BATCH, remaining))
      .lean<Member[]>();
    if (members.length === 0) return;
    after = String(members.at(-1)!._id);
    const subscriptions = await Subscription.find({ memberId: { $in: members.map((m) => m._id) } }).lean<
      Subscription[]
    >();
    const latest = new Map<string, Subscription>();
    for (const s of subscriptions) {
      const key = String(s.memberId);
      if ((latest.get(key)?.lastEventCreated ?? -1) <= s.lastEventCreated) latest.set(key, s);
    }
    for (const member of members) {
      const sub = latest.get(String(member._id));
      if (filter.plan && sub?.plan !== filter.plan) continue;
      if (filter.interval && sub?.interval !== filter.interval) continue;
      if (filter.currency && sub?.currency !== filter.currency) continue;
      remaining--;
      yield {
        _cursor: String(member._id),
        email: member.email,
        name: member.name ?? '',
        status: member.status,
        source: member.source,
        plan: sub?.plan ?? (member.source === 'gift' ? 'gift' : ''),
        interval: sub?.interval ?? '',
        amount: sub?.amount ?? '',
        currency: sub?.currency ?? '',
        joined_at: localDateTime(member.joinedAt, options.timeZone),
        current_period_end: member.currentPeriodEnd
          ? localDateTime(member.currentPeriodEnd, options.timeZone)
          : '',
        campaign: member.campaign ?? '',
        stripe_customer_id: member.stripeCustomerId ?? '',
      };
      if (remaining <= 0) return;
    }
  }
}
