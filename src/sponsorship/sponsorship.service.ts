import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import type Stripe from 'stripe';
import { type Campaign, campaignModels } from '../campaigns/campaign.model.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { giftModel, listGiftAtAddresses, markGiftDue } from '../gifts/gift.model.js';
import { claimOnce, decideOnce } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { idOf } from '../infra/stripe.js';
import { ledgerModel } from '../ledger/ledger.model.js';
import { recordLedgerEntry } from '../ledger/ledger.service.js';
import type { DomainEvents, LedgerRecorded, PaymentChargedBack } from '../shared/domain-events.js';
import { formatMoney } from '../shared/messages.js';
import { allocate, poolState, recordPoolMoney, sponsorShare } from './pool.service.js';
import {
  type PoolAllocation,
  poolKey,
  type SponsorshipRequest,
  sponsorshipModels,
} from './sponsorship.model.js';

export interface SponsorshipDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  events: DomainEvents;
  timeZone: string;
  publicBaseUrl: string;
  /** What one sponsored membership costs, per currency (a year's gift price). */
  prices: Record<string, number>;
  /** Readers whose address is at one of these domains are approved when they confirm. */
  autoApproveDomains: string[];
  /** Who the sponsored gift is "from" (its purchaser is the newsroom). */
  from: { name: string; email: string };
}

export const SPONSORED_MONTHS = 12;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** A paid sponsorship Checkout Session: revenue in the ledger, money in the campaign's pool. */
export async function fulfillSponsorship(
  deps: Pick<SponsorshipDeps, 'db' | 'clock' | 'events' | 'timeZone'>,
  session: Stripe.Checkout.Session,
  occurredAt: Date,
): Promise<'applied' | 'ignored'> {
  if (session.payment_status !== 'paid') return 'ignored';
  const campaignId = session.metadata?.campaignId;
  const email = session.customer_details?.email ?? session.customer_email;
  if (!campaignId || !Types.ObjectId.isValid(campaignId) || !email) return 'ignored';
  const paymentIntentId = idOf(session.payment_intent);
  const entryId = paymentIntentId ?? session.id;
  const currency = session.currency ?? 'usd';
  // Revenue when received: a one-time payment in the ledger, so reports, refunds, settlement and
  // reconciliation treat it as the money it is. `plan: sponsorship` says what it paid for.
  await recordLedgerEntry(deps, {
    _id: entryId,
    kind: 'one_time_payment',
    amount: session.amount_total ?? 0,
    currency,
    occurredAt,
    email: email.toLowerCase(),
    paymentIntentId,
    checkoutSessionId: session.id,
    stripeCustomerId: idOf(session.customer),
    plan: 'sponsorship',
    campaign: campaignId,
  });
  await recordPoolMoney(deps.db, poolKey(campaignId, currency), {
    entryId,
    amount: session.amount_total ?? 0,
    sponsorEmail: email.toLowerCase(),
    at: occurredAt,
  });
  return 'applied';
}

/**
 * A refund of a sponsorship payment takes the money out of its pool (memberships granted stay); a
 * refund that failed puts it back, as Stripe does (docs/adr/0013-failed-refunds.md).
 */
export async function applySponsorshipRefund(
  deps: Pick<SponsorshipDeps, 'db'>,
  entry: LedgerRecorded,
): Promise<void> {
  if ((entry.kind !== 'refund' && entry.kind !== 'refund_failure') || !entry.reverses) return;
  const paid = await ledgerModel(deps.db).findById(entry.reverses).lean();
  if (paid?.plan !== 'sponsorship' || !paid.campaign) return;
  await recordPoolMoney(deps.db, poolKey(paid.campaign, entry.currency), {
    entryId: entry.entryId,
    amount: entry.amount,
    sponsorEmail: paid.email ?? '',
    reverses: entry.reverses,
    at: entry.occurredAt,
  });
}

/**
 * A lost dispute of a sponsorship payment takes from its pool what a refund of the disputed amount
 * would (memberships granted stay), once per dispute: the dispute's id names the pool entry.
 */
export async function applySponsorshipChargeback(
  deps: Pick<SponsorshipDeps, 'db'>,
  chargeback: PaymentChargedBack,
): Promise<void> {
  const paid = await ledgerModel(deps.db).findById(chargeback.reverses).lean();
  if (paid?.plan !== 'sponsorship' || !paid.campaign) return;
  await recordPoolMoney(deps.db, poolKey(paid.campaign, chargeback.currency), {
    entryId: chargeback.disputeId,
    amount: -chargeback.amount,
    sponsorEmail: paid.email ?? '',
    reverses: chargeback.reverses,
    at: chargeback.occurredAt,
  });
}

/** A reader asks; answers the request and the confirmation token (emailed, never stored). */
export async function requestSponsorship(
  deps: SponsorshipDeps,
  input: { campaign: Campaign; email: string; reason: string; country: string; locale: string },
): Promise<void> {
  const now = deps.clock.now();
  // One request per address and campaign: asking again answers the same and sends nothing.
  if (!(await claimOnce(deps.db, `sponsor-request:${input.campaign._id}:${input.email}`, now))) return;
  const token = randomBytes(32).toString('base64url');
  const _id = new Types.ObjectId();
  await sponsorshipModels(deps.db).Request.create({
    _id,
    campaignId: input.campaign._id,
    email: input.email,
    reason: input.reason,
    country: input.country,
    locale: input.locale,
    status: 'unconfirmed',
    tokenHash: sha256(token),
  });
  await enqueueEmail(deps.db, deps.clock, {
    template: 'sponsorship-confirm',
    to: { email: input.email },
    locale: input.locale,
    data: {
      campaignTitle: input.campaign.title,
      confirmUrl: `${deps.publicBaseUrl}/sponsorships/confirm?request=${_id}&token=${token}&locale=${input.locale}`,
    },
    idempotencyKey: `sponsor-confirm:${_id}`,
  });
}

/** The reader confirms their address (POST from the emailed link): the request reaches staff. */
export async function confirmSponsorshipRequest(
  deps: SponsorshipDeps,
  requestId: string,
  token: string,
): Promise<SponsorshipRequest | null> {
  if (!Types.ObjectId.isValid(requestId)) return null;
  const request = await sponsorshipModels(deps.db).Request.findById(requestId).lean<SponsorshipRequest>();
  const given = Buffer.from(sha256(token));
  if (!request || !timingSafeEqual(given, Buffer.from(request.tokenHash))) return null;
  if (request.status === 'unconfirmed')
    await sponsorshipModels(deps.db).Request.updateOne(
      { _id: request._id, status: 'unconfirmed' },
      { $set: { status: 'requested' } },
    );
  const domain = request.email.slice(request.email.lastIndexOf('@') + 1);
  if (deps.autoApproveDomains.includes(domain))
    await decideRequest(deps, String(request._id), { decision: 'approve', by: `rule:${domain}` });
  return { ...request, status: request.status === 'unconfirmed' ? 'requested' : request.status };
}

export type DecisionOutcome = 'granted' | 'declined' | 'waiting_for_funds' | 'already_decided' | 'not_found';

/**
 * Staff (or the rule) decide a request, once: the first decision stands. An approval draws one
 * membership from the pool whose unallocated money is oldest; with no money (an empty pool, or one
 * in deficit after refunds) it waits as `waiting_for_funds`, and approving it again after money
 * came in grants it. A grant is a gift of a year's membership, delivered by the gift scheduler in
 * the reader's language.
 */
export async function decideRequest(
  deps: SponsorshipDeps,
  requestId: string,
  input: { decision: 'approve' | 'decline'; note?: string; by: string },
): Promise<DecisionOutcome> {
  if (!Types.ObjectId.isValid(requestId)) return 'not_found';
  const { Request } = sponsorshipModels(deps.db);
  const request = await Request.findById(requestId).lean<SponsorshipRequest>();
  if (!request || request.status === 'unconfirmed') return 'not_found';
  const now = deps.clock.now();
  const { decision } = await decideOnce(deps.db, `sponsor-decide:${requestId}`, now, input);
  if (decision?.decision !== input.decision) return 'already_decided';
  if (input.decision === 'decline') {
    const campaign = await campaignModels(deps.db).Campaign.findById(request.campaignId).lean<Campaign>();
    await enqueueEmail(deps.db, deps.clock, {
      template: 'sponsorship-declined',
      to: { email: request.email },
      locale: request.locale,
      data: { campaignTitle: campaign?.title ?? '' },
      idempotencyKey: `sponsor-declined:${request._id}`,
    });
    await Request.updateOne(
      { _id: request._id },
      { $set: { status: 'declined', note: decision.note, decidedBy: decision.by, decidedAt: now } },
    );
    return 'declined';
  }
  const allocation = request.allocation ?? (await drawFromPools(deps, request, now));
  if (!allocation) {
    // Queued where staff find it (`?status=waiting_for_funds`); the decision itself is kept.
    await Request.updateOne(
      { _id: request._id, status: 'requested' },
      { $set: { status: 'waiting_for_funds', note: decision.note, decidedBy: decision.by, decidedAt: now } },
    );
    return 'waiting_for_funds';
  }
  await grantSponsoredMembership(deps, request, now);
  // Told before the status is written: a retry after a crash tells it again, under the same key
  // (the request), so a receiver hears of the grant once.
  const paid = await sponsorshipModels(deps.db).Allocation.findById(allocation).lean<PoolAllocation>();
  const currency = allocation.slice(allocation.lastIndexOf(':') + 1, allocation.indexOf('#'));
  await deps.events.publish('sponsorship.granted', {
    requestId: String(request._id),
    campaign: (await campaignModels(deps.db).Campaign.findById(request.campaignId).lean<Campaign>())?.slug,
    durationMonths: SPONSORED_MONTHS,
    amount: paid?.price ?? deps.prices[currency] ?? 0,
    currency,
    grantedAt: now,
  });
  await Request.updateOne(
    { _id: request._id },
    { $set: { status: 'approved', allocation, note: decision.note, decidedBy: decision.by, decidedAt: now } },
  );
  return 'granted';
}

/** The pool whose next unallocated money came in first pays; another currency if it is empty. */
async function drawFromPools(deps: SponsorshipDeps, request: SponsorshipRequest, now: Date) {
  const campaignId = String(request.campaignId);
  const states = await Promise.all(
    Object.entries(deps.prices).map(([currency, price]) => poolState(deps.db, campaignId, currency, price)),
  );
  const nextMoneyAt = (s: (typeof states)[number]) => {
    let total = 0;
    for (const f of s.funds) {
      total += f.amount;
      if (total > s.allocations * s.price) return f.at.getTime();
    }
    return Number.POSITIVE_INFINITY;
  };
  states.sort((a, b) => nextMoneyAt(a) - nextMoneyAt(b));
  for (const state of states) {
    const allocation = await allocate(deps.db, state, String(request._id), now);
    if (allocation) return allocation;
  }
  return null;
}

/** A gift of a year's membership, paid by the pool: the gifts capability delivers and redeems it. */
async function grantSponsoredMembership(deps: SponsorshipDeps, request: SponsorshipRequest, now: Date) {
  const campaign = await campaignModels(deps.db).Campaign.findById(request.campaignId).lean<Campaign>();
  await listGiftAtAddresses(deps.db, request._id, [request.email]);
  // Listed for the gifts' delivery before it exists paid, as a bought gift is before it is paid.
  await markGiftDue(deps.db, request._id, now);
  try {
    await giftModel(deps.db).create({
      _id: request._id, // one gift per request, however often it is granted
      status: 'paid',
      purchaser: deps.from,
      recipient: { name: request.email.slice(0, request.email.indexOf('@')), email: request.email },
      message: `Supporters of our journalism sponsored this membership for you${campaign ? ` (${campaign.title})` : ''}.`,
      showPurchaserName: false,
      durationMonths: SPONSORED_MONTHS,
      amount: 0,
      currency: Object.keys(deps.prices)[0] ?? 'usd',
      locale: request.locale,
      deliverAt: now,
      campaign: campaign?.slug,
      paidAt: now,
    });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

export interface PoolReport {
  currency: string;
  price: number;
  moneyIn: number;
  refunded: number;
  /** Money in less refunds less memberships given: negative when refunds came after grants. */
  balance: number;
  /**
   * What refunds took out beyond what was left (0 or more, minor units): memberships already given
   * stand, and no approval is granted from this pool until new money covers it and a membership.
   */
  deficit: number;
  membershipsGiven: number;
  /** Memberships the money can still pay for. */
  available: number;
}

/** Per currency: money in, refunds, memberships given, what is left and any deficit. */
export async function poolReport(deps: SponsorshipDeps, campaignId: string): Promise<PoolReport[]> {
  const reports: PoolReport[] = [];
  for (const [currency, price] of Object.entries(deps.prices)) {
    const state = await poolState(deps.db, campaignId, currency, price);
    // Payments; a refund and a refund's failure (money back, positive) both name the payment they reverse.
    const moneyIn = state.funds.filter((f) => !f.reverses).reduce((s, f) => s + f.amount, 0);
    const balance = state.funded - state.allocations * price;
    reports.push({
      currency,
      price,
      moneyIn,
      refunded: moneyIn - state.funded,
      balance,
      deficit: Math.max(0, -balance),
      membershipsGiven: state.allocations,
      available: Math.max(0, Math.floor(balance / price)),
    });
  }
  return reports;
}

export interface WaitingReason {
  /** `pool_deficit`: refunds took out more than was left; `pool_empty`: no money for another. */
  code: 'pool_deficit' | 'pool_empty';
  message: string;
}

/** Why an approval of this campaign's requests waits, in words an editor can act on. */
export async function waitingReason(deps: SponsorshipDeps, campaignId: string): Promise<WaitingReason> {
  const inDeficit = (await poolReport(deps, campaignId)).filter((p) => p.deficit > 0);
  const money = (amount: number, currency: string) => formatMoney(amount, currency.toUpperCase(), 'en');
  if (inDeficit.length === 0)
    return {
      code: 'pool_empty',
      message:
        'The pool has no money for another membership. The approval waits (waiting_for_funds): approve it again once money comes in.',
    };
  const pools = inDeficit
    .map((p) => `the ${p.currency.toUpperCase()} pool is in deficit by ${money(p.deficit, p.currency)}`)
    .join('; ');
  const needs = inDeficit.map((p) => money(p.deficit + p.price, p.currency)).join(' or ');
  return {
    code: 'pool_deficit',
    message: `Refunds took out more than was left: ${pools}. Memberships already given stand. The approval waits (waiting_for_funds): approve it again once new money covers the deficit and one membership (${needs}).`,
  };
}

/** What each sponsor's money gave, emailed to them (no reader is named). Answers what was sent. */
export async function sendSponsorReports(
  deps: SponsorshipDeps,
  campaign: Campaign,
  period: string,
): Promise<{ email: string; readers: number }[]> {
  const sent: { email: string; readers: number }[] = [];
  const readersOf = new Map<string, number>();
  for (const [currency, price] of Object.entries(deps.prices)) {
    const state = await poolState(deps.db, String(campaign._id), currency, price);
    for (const email of new Set(state.funds.map((f) => f.sponsorEmail))) {
      readersOf.set(email, (readersOf.get(email) ?? 0) + sponsorShare(state, email).readers);
    }
  }
  for (const [email, readers] of readersOf) {
    if (!email) continue;
    await enqueueEmail(deps.db, deps.clock, {
      template: 'sponsor-report',
      to: { email },
      data: { campaignTitle: campaign.title, readers, months: SPONSORED_MONTHS },
      idempotencyKey: `sponsor-report:${campaign._id}:${period}:${email}`,
    });
    sent.push({ email, readers });
  }
  return sent;
}
