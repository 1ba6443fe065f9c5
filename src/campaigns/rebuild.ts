import type { Connection } from 'mongoose';
import { ledgerModel } from '../ledger/ledger.model.js';
import { chargebackModel } from '../memberships/dispute.events.js';
import { membershipModels } from '../memberships/membership.model.js';
import { type Campaign, campaignModels } from './campaign.model.js';
import { countOf } from './campaign.service.js';
import {
  countsAsNewMemberFilter,
  cycleStart,
  freeStartEnd,
  insideWindow,
  insideWindowFilter,
  isFirstPayment,
  MEMBER_MONEY,
  PAYMENT_KINDS,
} from './counting-rules.js';

export interface RebuildReport {
  slug: string;
  /** What the widget shows: the campaign's tallies (campaign.service.ts countOf). */
  live: number;
  /** The same number counted from the stored contribution and revocation records. */
  stored: number;
  recomputed: number;
  missing: string[]; // contributions the members and ledger call for, not stored
  extra: string[]; // stored contributions nothing calls for
  wronglyRevoked: string[];
  notRevoked: string[];
}

/**
 * When each member's first payment was fully refunded or charged back, by the rule live counting follows
 * (counting-rules.ts isFirstPayment): the payment an invoice marks `subscription_create`, the
 * renewal that starts where a $0 first invoice ended (a trial's first money), or, for entries from
 * before the billing reason was kept, the member's earliest payment. One pass over the ledger: a
 * query per member would decode the whole ledger once per member on FerretDB.
 */
async function fromLedger(db: Connection): Promise<{ takenBack: Map<string, Date[]>; paid: Set<string> }> {
  const payments = new Map<
    string,
    { memberId: string; occurredAt: Date; billingReason?: string; startsAt?: string }
  >();
  const freeStartEnds = new Set<string>(); // where $0 first invoices ended (counting-rules.ts)
  const earliest = new Map<string, { id: string; occurredAt: Date }>();
  const fullRefunds: { reverses: string; occurredAt: Date }[] = [];
  const paid = new Set<string>(); // members with a payment with money (campaign.service.ts countPayingMember)
  const entries = ledgerModel(db)
    .find()
    .select({
      kind: 1,
      amount: 1,
      memberId: 1,
      occurredAt: 1,
      billingReason: 1,
      subscriptionId: 1,
      periodStart: 1,
      periodEnd: 1,
      reverses: 1,
      fullRefund: 1,
    })
    .lean()
    .cursor();
  for await (const e of entries) {
    if (e.kind === 'refund' && e.fullRefund && e.reverses)
      fullRefunds.push({ reverses: e.reverses, occurredAt: e.occurredAt });
    if (MEMBER_MONEY.includes(e.kind) && e.memberId && e.amount > 0) paid.add(String(e.memberId));
    const freeEnd = freeStartEnd(e);
    if (freeEnd) freeStartEnds.add(freeEnd);
    if (!PAYMENT_KINDS.includes(e.kind) || !e.memberId) continue;
    const memberId = String(e.memberId);
    payments.set(e._id, {
      memberId,
      occurredAt: e.occurredAt,
      billingReason: e.billingReason,
      startsAt: cycleStart(e),
    });
    const seen = earliest.get(memberId);
    if (!seen || e.occurredAt < seen.occurredAt)
      earliest.set(memberId, { id: e._id, occurredAt: e.occurredAt });
  }
  // A lost dispute takes a payment back as its full refund does (a handful: read them all).
  for await (const c of chargebackModel(db).find().select({ reverses: 1, lostAt: 1 }).lean().cursor())
    fullRefunds.push({ reverses: c.reverses, occurredAt: c.lostAt });
  const takenBack = new Map<string, Date[]>();
  for (const refund of fullRefunds) {
    const payment = payments.get(refund.reverses);
    if (!payment) continue;
    const followsFreeStart = payment.startsAt !== undefined && freeStartEnds.has(payment.startsAt);
    if (
      isFirstPayment(
        { _id: refund.reverses, ...payment },
        earliest.get(payment.memberId)?.id,
        followsFreeStart,
      )
    )
      takenBack.set(payment.memberId, [...(takenBack.get(payment.memberId) ?? []), refund.occurredAt]);
  }
  return { takenBack, paid };
}

/**
 * Recomputes each campaign's member count from the members (who joined inside the window, except by
 * a gift, which campaigns count when it is paid, or by an import, which never counts, and once money
 * arrived: with their joining, or a payment with money in the ledger) and the ledger (whose first
 * payment was refunded inside it), and reports every difference from the stored contributions. Gift and one-time contributions are checked by the capabilities that write them.
 */
export async function rebuildCampaignCounts(db: Connection): Promise<RebuildReport[]> {
  const { Campaign, Contribution, Revocation } = campaignModels(db);
  const reports: RebuildReport[] = [];
  const { takenBack, paid } = await fromLedger(db);
  for (const campaign of await Campaign.find().sort({ startsAt: 1 }).lean<Campaign[]>()) {
    // Who joined inside the window in a way that counts (not by a gift, not by an import): the
    // live count's own rule (counting-rules.ts), as a query.
    const members = await membershipModels(db)
      .Member.find({ joinedAt: insideWindowFilter(campaign), source: countsAsNewMemberFilter() })
      .select({ _id: 1, joinedPaying: 1 })
      .lean();
    // A member who joined without money (a trial, a 100 % code) counts once a payment brought some.
    const counted = members.filter((m) => m.joinedPaying !== false || paid.has(String(m._id)));
    const expected = new Set(counted.map((m) => `${campaign._id}:member:${m._id}`));
    const expectedRevoked = new Set<string>();
    for (const member of counted) {
      const at = takenBack.get(String(member._id));
      if (at?.some((t) => insideWindow(campaign, t)))
        expectedRevoked.add(`${campaign._id}:member:${member._id}`);
    }
    const stored = new Set(
      (await Contribution.find({ campaignId: campaign._id, kind: 'member' }).select({ _id: 1 }).lean()).map(
        (c) => c._id,
      ),
    );
    const revoked = new Set(
      (
        await Revocation.find({ campaignId: campaign._id, _id: { $regex: ':member:' } })
          .select({ _id: 1 })
          .lean()
      ).map((r) => r._id),
    );
    const minus = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();
    const others = await Contribution.countDocuments({ campaignId: campaign._id, kind: { $ne: 'member' } });
    const otherRevoked = await Revocation.countDocuments({
      campaignId: campaign._id,
      _id: { $not: /:member:/ },
    });
    const records =
      campaign.startingOffset +
      (await Contribution.countDocuments({ campaignId: campaign._id })) -
      (await Revocation.countDocuments({ campaignId: campaign._id }));
    reports.push({
      slug: campaign.slug,
      live: await countOf(db, campaign),
      stored: records,
      recomputed: campaign.startingOffset + expected.size - expectedRevoked.size + others - otherRevoked,
      missing: minus(expected, stored),
      extra: minus(stored, expected),
      wronglyRevoked: minus(revoked, expectedRevoked),
      notRevoked: minus(expectedRevoked, revoked),
    });
  }
  return reports;
}
