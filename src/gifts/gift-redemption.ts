import type { Types } from 'mongoose';
import { revokeGift } from '../campaigns/campaign.service.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { decideOnce, hasClaim } from '../infra/claims.js';
import {
  createGiftMember,
  endGiftMembership,
  moveNextCharge,
  reserveMemberId,
} from '../memberships/gift-membership.js';
import { findMemberByEmail, payingSubscriptionOf } from '../memberships/member-keys.js';
import { membershipModels } from '../memberships/membership.model.js';
import { addMonths } from '../shared/time.js';
import { codeKey, type Gift, giftByKey, giftModel, paymentKey } from './gift.model.js';
import { hashCode } from './gift-common.js';
import type { GiftDeps } from './gift-deps.js';
import { giftTimeOf, recordGiftTime, settleGiftTime } from './gift-time.js';

// Redeeming a gift and refunding it, together: both decide through one claim per gift, so of any
// number of redemptions and a refund racing, exactly one outcome wins.

export type RedemptionView =
  | { state: 'ready'; gift: Gift }
  | { state: 'unknown' | 'redeemed' | 'expired' | 'refunded' | 'not_yet' };

/** What a redemption link points at, without changing anything. */
export async function viewGift(deps: GiftDeps, code: string): Promise<RedemptionView> {
  const hash = code.length >= 16 ? hashCode(code) : undefined;
  const gift = hash ? await giftByKey(deps.db, codeKey(hash)) : null;
  // A code sent again replaces the one before: an older code's key still names the gift.
  if (!gift || gift.codeHash !== hash) return { state: 'unknown' };
  if (gift.status === 'redeemed') return { state: 'redeemed' };
  if (gift.status === 'refunded') return { state: 'refunded' };
  if (gift.status === 'expired' || (gift.expiresAt && gift.expiresAt <= deps.clock.now()))
    return { state: 'expired' };
  if (gift.status !== 'delivered' && !(gift.status === 'paid' && gift.deliverAt <= deps.clock.now()))
    return { state: 'not_yet' };
  return { state: 'ready', gift };
}

/**
 * Redemption and refund take the same claim, `gift-redeem:<gift>`, and record in it what they
 * decided; whichever inserts it first decides for good. Each decision's follow-up writes are
 * idempotent `$set`s of values fixed in the decision, with the gift's status written last, so
 * whoever finds a decision unfinished (a retried redemption, Stripe's retry of the refund) finishes
 * it with the same result.
 */
type GiftDecision =
  | { outcome: 'redeemed'; email: string; at: Date; plan: RedemptionPlan }
  | { outcome: 'refunded'; at: Date };

/** What redeeming does to the recipient's membership, computed once, before the claim. */
type RedemptionPlan =
  | { kind: 'new' | 'extend'; memberId: Types.ObjectId; base: Date }
  | { kind: 'paying'; memberId: Types.ObjectId; subscriptionId: string; nextCharge: Date };

export const decisionKey = (gift: Pick<Gift, '_id'>) => `gift-redeem:${gift._id}`;
/** A redemption decided longer ago than this and still unfinished has lost its process. */
export const REDEMPTION_FINISH_MS = 60_000;

/**
 * Redeems a gift: of any number of concurrent attempts (and a refund racing them) exactly one
 * decision wins. A new or lapsed reader becomes a member until now + duration; a gift member's end
 * moves out; a paying member's next charge moves back by the duration, so no gifted day is lost.
 */
export async function redeemGift(deps: GiftDeps, code: string, email: string): Promise<RedemptionView> {
  const view = await viewGift(deps, code);
  if (view.state !== 'ready') return view;
  const { gift } = view;
  const now = deps.clock.now();
  const plan = await planRedemption(deps, gift, email, now);
  const { won, decision, decidedAt } = await decideOnce<GiftDecision>(deps.db, decisionKey(gift), now, {
    outcome: 'redeemed',
    email,
    at: now,
    plan,
  });
  if (!decision) return { state: 'redeemed' }; // claimed before decisions were recorded
  if (decision.outcome === 'refunded') {
    await finishRefund(deps, gift, decision.at);
    return { state: 'refunded' };
  }
  // The winner finishes its own decision; anyone else only one whose process is gone.
  if (won || now.getTime() - decidedAt.getTime() >= REDEMPTION_FINISH_MS)
    await finishRedemption(deps, gift, decision);
  return decision.email === email
    ? { state: 'ready', gift: { ...gift, status: 'redeemed' } }
    : { state: 'redeemed' };
}

async function planRedemption(deps: GiftDeps, gift: Gift, email: string, now: Date): Promise<RedemptionPlan> {
  const existing = await findMemberByEmail(deps.db, email);
  // Every gift redeemed by this new email, however concurrently, plans the same member.
  if (!existing) return { kind: 'new', memberId: await reserveMemberId(deps.db, email), base: now };
  const paying = await payingSubscriptionOf(deps.db, existing._id);
  if (paying && deps.stripe) {
    const from = paying.currentPeriodEnd && paying.currentPeriodEnd > now ? paying.currentPeriodEnd : now;
    return {
      kind: 'paying',
      memberId: existing._id,
      subscriptionId: paying._id,
      nextCharge: addMonths(from, gift.durationMonths),
    };
  }
  const stillActive =
    existing.status === 'active' && existing.currentPeriodEnd && existing.currentPeriodEnd > now;
  return { kind: 'extend', memberId: existing._id, base: stillActive ? existing.currentPeriodEnd! : now };
}

/** The redemption's writes, each idempotent; the gift's status last, as the "done" marker. */
async function finishRedemption(
  deps: GiftDeps,
  gift: Gift,
  decision: Extract<GiftDecision, { outcome: 'redeemed' }>,
): Promise<void> {
  const { plan, email, at } = decision;
  // The grant goes in before the member is created or changed: whoever plans from a member this
  // gift already touched then finds the grant first, so its plan's base (pre-gift time) is unused.
  if (plan.kind !== 'paying')
    await recordGiftTime(deps, plan.memberId, {
      giftId: String(gift._id),
      kind: 'grant',
      at,
      months: gift.durationMonths,
      base: plan.base,
    });
  if (plan.kind === 'new') {
    await createGiftMember(deps, {
      memberId: plan.memberId,
      email,
      name: gift.recipient.name,
      locale: gift.locale,
      giftId: String(gift._id),
      months: gift.durationMonths,
      at,
    });
  } else if (plan.kind === 'paying') {
    await deps.stripe?.subscriptions.update(
      plan.subscriptionId,
      { trial_end: Math.floor(plan.nextCharge.getTime() / 1000), proration_behavior: 'none' },
      { idempotencyKey: `gift-redeem:${gift._id}` },
    );
    await moveNextCharge(deps.db, plan);
  }
  if (plan.kind !== 'paying') await settleGiftTime(deps, plan.memberId, at);
  await enqueueEmail(deps.db, deps.clock, {
    template: 'gift-redeemed',
    to: gift.purchaser,
    locale: gift.locale,
    data: { name: gift.purchaser.name, recipientName: gift.recipient.name },
    idempotencyKey: `gift-redeemed:${gift._id}`,
  });
  await deps.events.publish('gift.redeemed', {
    giftId: String(gift._id),
    memberId: String(plan.memberId),
    redeemedAt: at,
  });
  await giftModel(deps.db).updateOne(
    { _id: gift._id },
    { $set: { status: 'redeemed', redeemedAt: at, redeemedBy: plan.memberId } },
  );
}

/** The refund's writes, each idempotent: the campaigns take the gift back, then the gift is refunded. */
async function finishRefund(deps: GiftDeps, gift: Gift, at: Date): Promise<void> {
  await revokeGift(deps, String(gift._id), at);
  await giftModel(deps.db).updateOne({ _id: gift._id }, { $set: { status: 'refunded', refundedAt: at } });
}

/** A redemption in flight takes a moment: wait for its "done" marker briefly rather than fail at once. */
async function redemptionFinished(deps: GiftDeps, gift: Gift, waitMs = 2_000): Promise<boolean> {
  for (const deadline = Date.now() + waitMs; Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const status = (await giftModel(deps.db).findById(gift._id).select({ status: 1 }).lean<Gift>())?.status;
    if (status === 'redeemed' || status === 'refunded') return true;
  }
  return false;
}

/**
 * A full refund of a gift's payment. If it wins the gift's claim, no redemption can happen; if a
 * redemption won, the refund waits for that redemption to finish (failing, so Stripe retries,
 * while it is in flight), then ends the membership the gift started.
 */
export async function refundGift(deps: GiftDeps, paymentIntentId: string, at: Date): Promise<void> {
  const gift = await giftByKey(deps.db, paymentKey(paymentIntentId));
  if (!gift || gift.status === 'refunded') return;
  const now = deps.clock.now();
  const { decision, decidedAt } = await decideOnce<GiftDecision>(deps.db, decisionKey(gift), now, {
    outcome: 'refunded',
    at,
  });
  // Refunded, by this delivery or an earlier one whose writes may be unfinished: finish them.
  if (decision?.outcome === 'refunded') return finishRefund(deps, gift, decision.at);
  if (!decision && gift.status !== 'redeemed') return finishRefund(deps, gift, at); // a claim from before decisions
  if (decision && gift.status !== 'redeemed') {
    // A redemption decided over a minute ago has lost its process: finish it now, without waiting.
    const abandoned = now.getTime() - decidedAt.getTime() >= REDEMPTION_FINISH_MS;
    if (!abandoned && !(await redemptionFinished(deps, gift)))
      throw new Error(`gift ${gift._id} is being redeemed; the refund applies once that has finished`);
    if (abandoned) await finishRedemption(deps, gift, decision);
  }
  const memberId = gift.redeemedBy ?? decision?.plan.memberId;
  if (decision?.plan.kind === 'paying') await takeBackPaidMonths(deps, gift, decision.plan);
  else if (memberId) await takeBackGiftTime(deps, gift, memberId, at);
  await finishRefund(deps, gift, at);
}

/**
 * Whether refunding a gift's payment would take nothing from a recipient: paid for, and no
 * redemption decided (an early fraud warning refunds only such gifts). A redemption that wins
 * the claim after this answer is undone by the refund, as any refund after a redemption is.
 */
export async function giftRefundable(deps: Pick<GiftDeps, 'db'>, paymentIntentId: string): Promise<boolean> {
  const gift = await giftByKey(deps.db, paymentKey(paymentIntentId));
  if (!gift || !['paid', 'delivered', 'expired'].includes(gift.status)) return false;
  return !(await hasClaim(deps.db, decisionKey(gift)));
}

/**
 * A paying member's redeemed gift moved their next charge back by its months (a trial on their
 * subscription). Refunded, the months not begun yet go: the next charge moves forward by the
 * gift's months, to now at the earliest (Stripe then bills at once: the gift's time had begun).
 * Moving from where the charge is now (not from the gift's own date) keeps another gift's months;
 * the date is decided once, so a retry cannot move it twice. Nothing left to take when the next
 * charge is already due (the months are used) or the subscription is gone. docs/adr/0013-failed-refunds.md.
 */
async function takeBackPaidMonths(
  deps: GiftDeps,
  gift: Gift,
  plan: Extract<RedemptionPlan, { kind: 'paying' }>,
): Promise<void> {
  const now = deps.clock.now();
  const subscription = await membershipModels(deps.db)
    .Subscription.findById(plan.subscriptionId)
    .select({ status: 1, currentPeriodEnd: 1 })
    .lean();
  const nextCharge = subscription?.currentPeriodEnd;
  if (!subscription || subscription.status === 'canceled' || !nextCharge || nextCharge <= now) return;
  const { decision } = await decideOnce(deps.db, `gift-months-back:${gift._id}`, now, {
    nextCharge: addMonths(nextCharge, -gift.durationMonths),
  });
  const moved = new Date(decision!.nextCharge);
  const due = moved > now ? moved : now;
  await deps.stripe?.subscriptions.update(
    plan.subscriptionId,
    { trial_end: moved > now ? Math.floor(moved.getTime() / 1000) : 'now', proration_behavior: 'none' },
    { idempotencyKey: `gift-refund:${gift._id}` },
  );
  await moveNextCharge(deps.db, {
    memberId: plan.memberId,
    subscriptionId: plan.subscriptionId,
    nextCharge: due,
  });
}

/** Only the refunded gift's months go: other gifts' time and a paid subscription stay. */
async function takeBackGiftTime(deps: GiftDeps, gift: Gift, memberId: Types.ObjectId, at: Date) {
  const granted = (await giftTimeOf(deps, memberId)).find(
    (item) => item.giftId === String(gift._id) && item.kind === 'grant',
  );
  if (granted) {
    const { _id, ...grant } = granted;
    await recordGiftTime(deps, memberId, { ...grant, kind: 'revoke', at });
    return settleGiftTime(deps, memberId, at);
  }
  // Redeemed before gift time was recorded: the membership it started ends, as it always did.
  await endGiftMembership(deps.db, memberId, at);
}
