import type { Connection } from 'mongoose';
import { type Campaign, campaignModels } from '../campaigns/campaign.model.js';
import { giftModel } from '../gifts/gift.model.js';
import { membershipModels } from '../memberships/membership.model.js';

/** The gift funnel: how many were bought, delivered, redeemed, expired, refunded, and became paying members. */
export async function giftsReport(db: Connection) {
  const Gifts = giftModel(db);
  const [purchased, delivered, redeemed, expired, refunded] = await Promise.all([
    Gifts.countDocuments({ status: { $ne: 'pending_payment' } }),
    Gifts.countDocuments({ deliveredAt: { $exists: true } }),
    Gifts.countDocuments({ status: 'redeemed' }),
    Gifts.countDocuments({ status: 'expired' }),
    Gifts.countDocuments({ status: 'refunded' }),
  ]);
  const { Member, Subscription } = membershipModels(db);
  const giftMembers = await Member.find({ source: 'gift' }).select({ _id: 1 }).lean();
  const convertedToPaid = giftMembers.length
    ? (await Subscription.distinct('memberId', { memberId: { $in: giftMembers.map((m) => m._id) } })).length
    : 0;
  return { purchased, delivered, redeemed, expired, refunded, convertedToPaid };
}

/** A campaign day by day: contributions by source, revocations, and the running total against the goal. */
export async function campaignReport(db: Connection, slug: string) {
  const { Campaign, Contribution, Revocation } = campaignModels(db);
  const campaign = await Campaign.findOne({ slug }).lean<Campaign>();
  if (!campaign) return undefined;
  const [added, revoked] = await Promise.all([
    Contribution.aggregate<{ _id: { day: string; source: string }; n: number }>([
      { $match: { campaignId: campaign._id } },
      { $group: { _id: { day: '$day', source: '$source' }, n: { $sum: 1 } } },
    ]),
    Revocation.find({ campaignId: campaign._id }).select({ revokedAt: 1 }).lean(),
  ]);
  const days = new Map<
    string,
    { day: string; added: number; revoked: number; bySource: Record<string, number> }
  >();
  const dayOf = (day: string) => {
    const entry = days.get(day) ?? { day, added: 0, revoked: 0, bySource: {} };
    days.set(day, entry);
    return entry;
  };
  for (const group of added) {
    const entry = dayOf(group._id.day);
    entry.added += group.n;
    entry.bySource[group._id.source] = (entry.bySource[group._id.source] ?? 0) + group.n;
  }
  const dayFormat = new Intl.DateTimeFormat('en-CA', {
    timeZone: campaign.timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });
  for (const r of revoked) dayOf(dayFormat.format(r.revokedAt)).revoked++;
  let cumulative = campaign.startingOffset;
  const perDay = [...days.values()]
    .sort((a, b) => a.day.localeCompare(b.day))
    .map((d) => {
      cumulative += d.added - d.revoked;
      return { ...d, cumulative, goal: campaign.goal };
    });
  return {
    slug,
    title: campaign.title,
    goal: campaign.goal,
    startingOffset: campaign.startingOffset,
    days: perDay,
  };
}
