import type { Connection, Types } from 'mongoose';
import { enqueueEmail } from '../email/outbox.service.js';
import { claimOnce, decideOnce, decisionOf, hasClaim } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { tallyAdd } from '../infra/tally.js';
import { ledgerModel } from '../ledger/ledger.model.js';
import { membershipModels } from '../memberships/membership.model.js';
import type {
  DomainEvents,
  LedgerRecorded,
  MemberJoined,
  PaymentChargedBack,
} from '../shared/domain-events.js';
import { calendarKeys } from '../shared/time.js';
import { staffModels } from '../staff/staff.model.js';
import { type Campaign, campaignModels } from './campaign.model.js';
import {
  countsAsNewMember,
  cycleStart,
  freeStartEnd,
  insideWindow,
  isFirstPayment,
  MEMBER_MONEY,
  PAYMENT_KINDS,
} from './counting-rules.js';
import { tallyDay } from './day-figures.js';
import { logContribution, logRevocation } from './drive-log/log.service.js';
import { logCount } from './drive-log/log-count.js';
import { sharedRound } from './shared-rounds.js';

export interface CampaignDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  /** Where a milestone reached is told (integrations send it as a webhook). */
  events?: DomainEvents;
}

/** Campaigns whose window holds this instant: starts at or before it, ends after it. */
function campaignsRunningAt(db: Connection, at: Date) {
  return campaignModels(db)
    .Campaign.find({ startsAt: { $lte: at }, endsAt: { $gt: at } })
    .lean<Campaign[]>();
}

/**
 * Every contribution and every revocation is also a mark in its campaign's tally (infra/tally.ts),
 * so the count is read by a few primary-key probes however many there are. `campaigns:rebuild`
 * recomputes it from the records as the proof.
 */
export const contributionTally = (campaignId: Types.ObjectId | string) => `campaign:${campaignId}:counted`;
export const revocationTally = (campaignId: Types.ObjectId | string) => `campaign:${campaignId}:revoked`;

/**
 * The campaign's count as its drive log states it (offset leaves + additions − revocations,
 * drive-log/log-count.ts): the tallies are kept for `campaigns:rebuild`, not for the number shown,
 * so a mark written straight into the database moves nothing a reader sees.
 */
export async function countOf(
  db: Connection,
  campaign: Pick<Campaign, '_id' | 'startingOffset'>,
): Promise<number> {
  return (await logCount(db, campaign)).count;
}

/** Marks every stored contribution and revocation in its tally: once per database, at start. */
export async function backfillCampaignTallies(db: Connection): Promise<number> {
  const { Contribution, Revocation } = campaignModels(db);
  let done = 0;
  for await (const c of Contribution.find().select({ campaignId: 1, countedAt: 1 }).lean().cursor()) {
    await tallyAdd(db, contributionTally(c.campaignId), c._id, c.countedAt);
    done++;
  }
  for await (const r of Revocation.find().select({ campaignId: 1, revokedAt: 1 }).lean().cursor()) {
    await tallyAdd(db, revocationTally(r.campaignId), r._id, r.revokedAt);
    done++;
  }
  return done;
}

/** Writes a contribution once; true if this call wrote it. */
async function addContribution(
  deps: CampaignDeps,
  campaign: Campaign,
  who: string,
  fields: {
    kind: 'member' | 'gift' | 'one_time';
    memberId?: Types.ObjectId | string;
    source?: string;
    at: Date;
  },
): Promise<boolean> {
  const _id = `${campaign._id}:${who}`;
  try {
    await campaignModels(deps.db).Contribution.create({
      _id,
      campaignId: campaign._id,
      kind: fields.kind,
      memberId: fields.memberId,
      source: fields.source ?? 'direct',
      countedAt: fields.at,
      day: calendarKeys(fields.at, campaign.timeZone).day,
    });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    // Stored before, perhaps by a call that died before its mark: the retry completes it.
    // The public drive log (src/transparency/) is written beside the tally, once per record.
    await Promise.all([
      tallyAdd(deps.db, contributionTally(campaign._id), _id, fields.at),
      tallyDay(deps.db, campaign, 'added', _id, fields.at),
      logContribution(deps.db, campaign._id, _id, fields.at),
    ]);
    // An event delivered again after a crash before its announcement: the chain makes this a no-op otherwise.
    await announceMilestones(deps, campaign);
    return false;
  }
  await Promise.all([
    tallyAdd(deps.db, contributionTally(campaign._id), _id, fields.at),
    tallyDay(deps.db, campaign, 'added', _id, fields.at),
    logContribution(deps.db, campaign._id, _id, fields.at, { fresh: true }),
  ]);
  await announceMilestones(deps, campaign);
  return true;
}

/**
 * A reader's first membership counts toward every campaign running when it started, once money
 * arrived: at joining when they paid then, else at their first payment with money (a trial that
 * converts; a 100 % promotion code never does). ADR 0011.
 */
export async function countNewMember(deps: CampaignDeps, joined: MemberJoined): Promise<void> {
  // A gift counted when it was paid (countGift); an imported supporter was a member before the
  // drive. The rule is shared with campaigns:rebuild (counting-rules.ts).
  if (!countsAsNewMember(joined.source)) return;
  if (joined.paid === false) return; // countPayingMember counts them when money arrives
  await countMember(deps, joined, joined.joinedAt);
}

async function countMember(
  deps: CampaignDeps,
  member: { memberId: string; joinedAt: Date; campaign?: string },
  at: Date,
) {
  for (const campaign of await campaignsRunningAt(deps.db, member.joinedAt)) {
    await addContribution(deps, campaign, `member:${member.memberId}`, {
      kind: 'member',
      memberId: member.memberId,
      source: member.campaign ?? 'direct',
      at,
    });
  }
}

/**
 * A member's payment with money counts them toward the campaigns running when they joined (a
 * member who joined with money is counted already; this is the trial that converts). Every payment
 * tries, so the order and duplicates of deliveries change nothing: the contribution is written once.
 */
async function countPayingMember(deps: CampaignDeps, entry: LedgerRecorded): Promise<void> {
  if (!entry.memberId || entry.amount <= 0) return;
  const member = await membershipModels(deps.db)
    .Member.findById(entry.memberId)
    .select({ source: 1, joinedAt: 1, campaign: 1 })
    .lean();
  if (!member || !countsAsNewMember(member.source)) return; // gifts and imports: as countNewMember
  await countMember(
    deps,
    { memberId: entry.memberId, joinedAt: member.joinedAt, campaign: member.campaign },
    entry.occurredAt,
  );
}

/** A paid gift counts toward running campaigns that count gifts (the gifts capability calls this). */
export async function countGift(
  deps: CampaignDeps,
  gift: { giftId: string; paidAt: Date; campaign?: string },
): Promise<void> {
  for (const campaign of await campaignsRunningAt(deps.db, gift.paidAt)) {
    if (!campaign.counts.gifts) continue;
    await addContribution(deps, campaign, `gift:${gift.giftId}`, {
      kind: 'gift',
      source: gift.campaign,
      at: gift.paidAt,
    });
  }
}

/** Takes a gift's contribution back (refunded): once per campaign. */
export async function revokeGift(deps: CampaignDeps, giftId: string, at: Date): Promise<void> {
  // A contribution is named `<campaign>:gift:<gift>`: a primary-key lookup per campaign (a handful).
  const { Campaign, Contribution } = campaignModels(deps.db);
  for (const campaign of await Campaign.find().select({ _id: 1 }).lean()) {
    const _id = `${campaign._id}:gift:${giftId}`;
    if (await Contribution.exists({ _id })) await revoke(deps, _id, campaign._id, at, 'gift refunded');
  }
}

async function revoke(
  deps: CampaignDeps,
  contributionId: string,
  campaignId: Types.ObjectId,
  at: Date,
  reason: string,
) {
  try {
    await campaignModels(deps.db).Revocation.create({
      _id: contributionId,
      campaignId,
      revokedAt: at,
      reason,
    });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const zone = await campaignModels(deps.db).Campaign.findById(campaignId).select({ timeZone: 1 }).lean();
  await Promise.all([
    tallyAdd(deps.db, revocationTally(campaignId), contributionId, at),
    tallyDay(deps.db, { _id: campaignId, timeZone: zone?.timeZone ?? 'UTC' }, 'revoked', contributionId, at),
    logRevocation(deps.db, campaignId, contributionId, at), // the public drive log, once
  ]);
}

/**
 * Money recorded in the ledger: a full refund of a member's first payment inside a campaign's window
 * takes their contribution back; one-time contributions count where a campaign says so.
 */
export async function applyLedgerEntry(deps: CampaignDeps, entry: LedgerRecorded): Promise<void> {
  if ((MEMBER_MONEY as readonly string[]).includes(entry.kind)) return countPayingMember(deps, entry);
  if (entry.kind === 'free_invoice') return noteFreeStart(deps, entry);
  if (entry.kind === 'one_time_payment') {
    for (const campaign of await campaignsRunningAt(deps.db, entry.occurredAt)) {
      if (campaign.counts.oneTime) {
        await addContribution(deps, campaign, `one_time:${entry.entryId}`, {
          kind: 'one_time',
          at: entry.occurredAt,
        });
      }
    }
    return;
  }
  // Only a refund of the whole payment takes anything back: a partial refund leaves it paid.
  if (entry.kind !== 'refund' || !entry.fullRefund || !entry.reverses) return;
  await takeBackPayment(deps, { ...entry, reverses: entry.reverses }, 'refunded');
}

/** A lost dispute (a chargeback) takes back what a full refund of the payment would. */
export async function applyChargeback(deps: CampaignDeps, chargeback: PaymentChargedBack): Promise<void> {
  await takeBackPayment(deps, chargeback, 'charged back');
}

/**
 * A payment whose money went back (refunded in full, or charged back): its one-time contribution,
 * and the member's contribution if it was their first payment and this happened inside the window.
 * A revocation is named by its contribution, so a refund and a chargeback of one payment revoke once.
 */
async function takeBackPayment(
  deps: CampaignDeps,
  entry: { reverses: string; memberId?: string; occurredAt: Date },
  how: 'refunded' | 'charged back',
): Promise<void> {
  const { Campaign, Contribution } = campaignModels(deps.db);
  const campaigns = await Campaign.find().lean<Campaign[]>();
  // A one-time contribution counted by a campaign is taken back by its full refund (any time: the
  // money is gone). Its contribution is named by the payment's entry, so this is a lookup by `_id`.
  for (const campaign of campaigns) {
    const counted = await Contribution.exists({ _id: `${campaign._id}:one_time:${entry.reverses}` });
    if (counted)
      await revoke(
        deps,
        `${campaign._id}:one_time:${entry.reverses}`,
        campaign._id,
        entry.occurredAt,
        `contribution ${how}`,
      );
  }
  if (!entry.memberId) return;
  // Whether the refunded payment was the first must not depend on which payments happen to be
  // recorded yet (a renewal can arrive before the first invoice): an invoice says so itself.
  const refunded = await ledgerModel(deps.db).findById(entry.reverses).lean();
  const earliest = refunded?.billingReason
    ? undefined
    : await ledgerModel(deps.db) // entries recorded before billingReason was kept
        .findOne({ memberId: entry.memberId, kind: { $in: [...PAYMENT_KINDS] } })
        .sort({ occurredAt: 1 })
        .lean();
  // A renewal is a trial member's first money when a $0 first invoice ended where its period
  // starts. That invoice may be recorded after this (deliveries come in any order): the take-back
  // is written down first, under the boundary, so whichever of the two comes second revokes.
  const boundary = refunded ? cycleStart(refunded) : undefined;
  if (boundary) {
    const takenBack: FirstMoneyTakenBack = { memberId: entry.memberId, payment: entry.reverses };
    await decideOnce(deps.db, takenBackKey(how, boundary), entry.occurredAt, takenBack);
  }
  const followsFreeStart = boundary ? await hasClaim(deps.db, freeStartKey(boundary)) : false;
  if (
    !isFirstPayment(
      { _id: entry.reverses, billingReason: refunded?.billingReason },
      earliest?._id,
      followsFreeStart,
    )
  )
    return;
  await revokeMember(deps, entry.memberId, entry.reverses, entry.occurredAt, how);
}

/** The member's contribution to each campaign whose window holds the time their first money went back. */
async function revokeMember(
  deps: CampaignDeps,
  memberId: string,
  payment: string,
  at: Date,
  how: 'refunded' | 'charged back',
) {
  const { Campaign, Contribution } = campaignModels(deps.db);
  for (const campaign of await Campaign.find().lean<Campaign[]>()) {
    if (!insideWindow(campaign, at)) continue;
    const _id = `${campaign._id}:member:${memberId}`;
    if (await Contribution.exists({ _id }))
      await revoke(deps, _id, campaign._id, at, `first payment ${payment} ${how}`);
  }
}

/** A subscription's free start ended at this boundary (counting-rules.ts freeStartBoundary). */
const freeStartKey = (boundary: string) => `campaigns:free-start-ends:${boundary}`;
/** The payment starting at this boundary went back, refunded or charged back (one key each). */
const takenBackKey = (how: 'refunded' | 'charged back', boundary: string) =>
  `campaigns:cycle-taken-back:${how === 'refunded' ? 'refund' : 'chargeback'}:${boundary}`;
interface FirstMoneyTakenBack {
  memberId: string;
  payment: string;
}

/**
 * A $0 first invoice: notes where the free start ended, then takes back the payment starting there
 * if its refund or chargeback came before this invoice was recorded (see takeBackPayment). Every
 * read and write is by `_id`: the entry, two claims.
 */
async function noteFreeStart(deps: CampaignDeps, entry: LedgerRecorded): Promise<void> {
  const invoice = await ledgerModel(deps.db)
    .findById(entry.entryId)
    .select({ kind: 1, billingReason: 1, subscriptionId: 1, periodEnd: 1 })
    .lean();
  const boundary = invoice ? freeStartEnd(invoice) : undefined;
  if (!boundary) return;
  await claimOnce(deps.db, freeStartKey(boundary), entry.occurredAt);
  for (const how of ['refunded', 'charged back'] as const) {
    const held = await decisionOf<FirstMoneyTakenBack>(deps.db, takenBackKey(how, boundary));
    if (held?.decision)
      await revokeMember(deps, held.decision.memberId, held.decision.payment, held.decidedAt, how);
  }
}

/** Before the announcement chain, one mark per milestone announced; still read so none repeats. */
const legacyAnnounced = (campaign: Campaign, percent: number) =>
  `milestone-announced:${campaign._id}:${percent}`;
/** The n-th announcement of a campaign (n from 1): a claim whose decision is its milestone. */
const announcementKey = (campaign: Campaign, n: number) => `milestone-announcement:${campaign._id}:${n}`;
/** Written once the n-th announcement's emails are queued. */
const announcementSent = (campaign: Campaign, n: number) => `milestone-sent:${campaign._id}:${n}`;

interface Announcement {
  percent: number;
  count: number;
}

/**
 * When the count reaches a milestone, admins and editors are emailed once each, for the highest
 * milestone reached: a count that jumps past several (a starting offset, a batch of joins) sends
 * one message, and a lower milestone is never announced after a higher one (a refund that takes the
 * count back under 75 % does not make 50 % news again).
 *
 * Announcements form a chain of claims (n = 1, 2, …), each for a higher milestone than the one
 * before: two joins racing for the same place get one winner, and the loser moves on only if its
 * milestone is higher than the winner's. Each caller first finishes the newest announcement's
 * emails (idempotent), so one queued after a crash is not lost and a higher one is never queued
 * before a lower one. Every read is by `_id`, one per announcement made so far (at most the
 * milestones).
 */
function announceMilestones(deps: CampaignDeps, campaign: Campaign): Promise<void> {
  // One check serves every arrival that asked while the one before ran (shared-rounds.ts).
  return sharedRound(deps.db, `milestones:${campaign._id}`, () => checkMilestones(deps, campaign));
}

async function checkMilestones(deps: CampaignDeps, campaign: Campaign): Promise<void> {
  const count = await countOf(deps.db, campaign);
  const reached = campaign.milestones.filter((percent) => count * 100 >= campaign.goal * percent);
  const target = reached.length > 0 ? Math.max(...reached) : undefined;
  let n = 0;
  let last: Announcement | undefined;
  for (;;) {
    const held = await decisionOf<Announcement>(deps.db, announcementKey(campaign, n + 1));
    if (!held) break;
    n++;
    last = held.decision;
  }
  for (;;) {
    if (last) await sendAnnouncement(deps, campaign, n, last);
    if (target === undefined || (last && last.percent >= target)) return;
    if (n === 0 && (await announcedBeforeChain(deps, campaign, target))) return;
    const decided = await decideOnce<Announcement>(
      deps.db,
      announcementKey(campaign, n + 1),
      deps.clock.now(),
      {
        percent: target,
        count,
      },
    );
    n++;
    last = decided.decision;
  }
}

/** Whether a milestone at or above `percent` was announced under the older per-milestone marks. */
async function announcedBeforeChain(deps: CampaignDeps, campaign: Campaign, percent: number) {
  for (const p of campaign.milestones.filter((m) => m >= percent))
    if (await hasClaim(deps.db, legacyAnnounced(campaign, p))) return true;
  return false;
}

/** Queues the n-th announcement's emails, once per person (their idempotency keys absorb a repeat). */
async function sendAnnouncement(deps: CampaignDeps, campaign: Campaign, n: number, announced: Announcement) {
  if (await hasClaim(deps.db, announcementSent(campaign, n))) return;
  const { percent, count } = announced;
  const staff = await staffModels(deps.db)
    .StaffUser.find({ role: { $in: ['admin', 'editor'] }, disabled: false })
    .select({ email: 1, name: 1 })
    .lean();
  for (const person of staff) {
    const { created } = await enqueueEmail(deps.db, deps.clock, {
      template: 'campaign-milestone',
      to: { email: person.email, name: person.name },
      data: { name: person.name, campaignTitle: campaign.title, percent, count, goal: campaign.goal },
      idempotencyKey: `milestone:${campaign._id}:${percent}:${person._id}`,
    });
    if (created) deps.logger.info({ campaign: campaign.slug, percent, count }, 'campaign milestone reached');
  }
  // Before the mark too: told again after a crash, it is the same webhook (keyed by campaign and
  // percent), so a receiver hears each milestone once.
  await deps.events?.publish('campaign.milestone', {
    campaignId: String(campaign._id),
    slug: campaign.slug,
    title: campaign.title,
    percent,
    count,
    goal: campaign.goal,
    reachedAt: deps.clock.now(),
  });
  await claimOnce(deps.db, announcementSent(campaign, n), deps.clock.now());
}
