import { createHash, createHmac, randomBytes } from 'node:crypto';
import { type Connection, Types } from 'mongoose';
import type Stripe from 'stripe';
import { countGift, revokeGift } from '../campaigns/campaign.service.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { AppError } from '../http/errors.js';
import { claimOnce, decideOnce, hasClaim } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { Logger } from '../infra/logger.js';
import { signLink } from '../infra/signed-links.js';
import { idOf } from '../infra/stripe.js';
import { recordLedgerEntry } from '../ledger/ledger.service.js';
import { type CheckoutSessions, METADATA_APP } from '../memberships/checkout.service.js';
import {
  claimMemberKey,
  emailKey,
  ensureMemberKeys,
  findMemberByEmail,
  payingSubscriptionOf,
} from '../memberships/member-keys.js';
import { type Member, membershipModels } from '../memberships/membership.model.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { addMonths, calendarKeys, zonedHourToUtc } from '../shared/time.js';
import { codeKey, type Gift, giftByKey, giftModel, keyGift, paymentKey } from './gift.model.js';
import type { GiftOptions } from './gift-options.js';
import { giftTimeOf, recordGiftTime, settleGiftTime } from './gift-time.js';

export interface GiftDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  events: DomainEvents;
  stripe: Stripe | null;
  /** Development without Stripe: gift checkout goes to the local payment page instead. */
  localCheckout?: CheckoutSessions;
  options: GiftOptions;
  publicBaseUrl: string;
  linkSecret: string;
  timeZone: string;
  /** Local hour (in timeZone) at which gifts are delivered on their day. */
  deliveryHour: number;
  /** Unredeemed gifts expire this many months after delivery. */
  expiryMonths: number;
}

const DAY_MS = 86_400_000;
const hashCode = (code: string) => createHash('sha256').update(code).digest('hex');
const newCode = () => randomBytes(16).toString('base64url'); // 128 bits
const longDate = (d: Date, timeZone: string) =>
  new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone }).format(d);

export function manageUrl(deps: Pick<GiftDeps, 'publicBaseUrl' | 'linkSecret'>, giftId: string) {
  return `${deps.publicBaseUrl}/gifts/manage?g=${giftId}&sig=${signLink(deps.linkSecret, 'gift-manage', giftId)}`;
}

export function continueUrl(deps: Pick<GiftDeps, 'publicBaseUrl' | 'linkSecret'>, memberId: string) {
  return `${deps.publicBaseUrl}/gifts/continue?m=${memberId}&sig=${signLink(deps.linkSecret, 'gift-continue', memberId)}`;
}

export function giftPrice(options: GiftOptions, months: number, currency: string): number {
  const duration = options.durations.find((d) => d.months === months);
  const price = duration?.prices[currency as keyof typeof duration.prices];
  if (!duration)
    throw new AppError('validation_failed', undefined, [
      { path: 'durationMonths', message: `A ${months}-month gift is not offered` },
    ]);
  if (!price)
    throw new AppError('validation_failed', undefined, [
      { path: 'currency', message: `Gifts are not offered in ${currency.toUpperCase()}` },
    ]);
  return price;
}

export interface GiftPurchase {
  purchaser: { name: string; email: string };
  recipient: { name: string; email: string };
  message: string;
  durationMonths: number;
  currency: string;
  deliverOn: string; // YYYY-MM-DD in the newsroom's time zone
  locale: string;
  showPurchaserName: boolean;
  campaign?: string;
}

/** The gift waits as pending_payment; the Stripe webhook moves it to paid. */
export async function createGiftCheckout(
  deps: GiftDeps,
  input: GiftPurchase,
): Promise<{ giftId: string; url: string }> {
  const sessions = deps.stripe ?? deps.localCheckout;
  if (!sessions) throw new AppError('payments_not_configured');
  const amount = giftPrice(deps.options, input.durationMonths, input.currency);
  const now = deps.clock.now();
  const today = calendarKeys(now, deps.timeZone).day;
  const lastDay = calendarKeys(new Date(now.getTime() + 365 * DAY_MS), deps.timeZone).day;
  if (input.deliverOn < today || input.deliverOn > lastDay) {
    throw new AppError('validation_failed', undefined, [
      { path: 'deliverOn', message: 'Choose a delivery date from today up to a year ahead' },
    ]);
  }
  // Today means now: the scheduler sends it on its next round.
  const deliverAt =
    input.deliverOn === today ? now : zonedHourToUtc(input.deliverOn, deps.deliveryHour, deps.timeZone);
  const gift = await giftModel(deps.db).create({
    status: 'pending_payment',
    purchaser: input.purchaser,
    recipient: input.recipient,
    message: input.message,
    showPurchaserName: input.showPurchaserName,
    durationMonths: input.durationMonths,
    amount,
    currency: input.currency,
    locale: input.locale,
    deliverAt,
    campaign: input.campaign,
  });
  const metadata = {
    app: METADATA_APP,
    kind: 'gift',
    giftId: String(gift._id),
    ...(input.campaign ? { campaign: input.campaign } : {}),
  };
  const creating = sessions.checkout.sessions.create(
    {
      mode: 'payment',
      line_items: [
        {
          quantity: 1,
          price_data: {
            currency: input.currency,
            unit_amount: amount,
            product_data: { name: `Gift membership, ${input.durationMonths} months` },
          },
        },
      ],
      customer_email: input.purchaser.email,
      client_reference_id: String(gift._id),
      metadata,
      payment_intent_data: { metadata },
      success_url: `${deps.publicBaseUrl}/gifts/thanks`,
      cancel_url: `${deps.publicBaseUrl}/gifts`,
    },
    { idempotencyKey: `gift-checkout:${gift._id}` },
  );
  // Stripe failed: no session, so no payment can ever name this gift; do not leave it half-stored.
  const session = await creating.catch(async (error) => {
    await giftModel(deps.db).deleteOne({ _id: gift._id });
    throw error;
  });
  await giftModel(deps.db).updateOne({ _id: gift._id }, { $set: { checkoutSessionId: session.id } });
  if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
  return { giftId: String(gift._id), url: session.url };
}

/** A paid gift session: paid once, money recorded once, the purchaser gets a receipt, campaigns count it. */
export async function fulfillGiftPayment(
  deps: GiftDeps,
  session: Stripe.Checkout.Session,
  occurredAt: Date,
  /** For the receipt: Stripe's receipt page and the charity statement (memberships/receipt-links.ts). */
  receipt: { receiptUrl?: string; charityStatement?: string } = {},
): Promise<'applied' | 'ignored' | 'pending'> {
  const giftId = session.metadata?.giftId;
  const gift =
    giftId && /^[0-9a-f]{24}$/.test(giftId) ? await giftModel(deps.db).findById(giftId).lean<Gift>() : null;
  if (!gift) return 'ignored';
  if (session.payment_status !== 'paid') return 'pending';
  const paymentIntentId = idOf(session.payment_intent);
  if (paymentIntentId) await keyGift(deps.db, paymentKey(paymentIntentId), gift._id);
  await giftModel(deps.db).updateOne(
    { _id: gift._id, status: 'pending_payment' },
    { $set: { status: 'paid', paidAt: occurredAt, paymentIntentId } },
  );
  await recordLedgerEntry(
    { ...deps, timeZone: deps.timeZone },
    {
      _id: paymentIntentId ?? session.id,
      kind: 'gift_purchase',
      amount: session.amount_total ?? gift.amount,
      currency: session.currency ?? gift.currency,
      occurredAt,
      email: gift.purchaser.email,
      name: gift.purchaser.name,
      paymentIntentId,
      checkoutSessionId: session.id,
      plan: `gift_${gift.durationMonths}m`,
      campaign: gift.campaign,
    },
  );
  await enqueueEmail(deps.db, deps.clock, {
    template: 'gift-receipt',
    to: gift.purchaser,
    locale: gift.locale,
    data: {
      name: gift.purchaser.name,
      recipientName: gift.recipient.name,
      durationMonths: gift.durationMonths,
      amount: session.amount_total ?? gift.amount,
      currency: gift.currency.toUpperCase(),
      deliverOn: longDate(gift.deliverAt, deps.timeZone),
      manageUrl: manageUrl(deps, String(gift._id)),
      ...receipt,
    },
    idempotencyKey: `gift-receipt:${gift._id}`,
  });
  await countGift(deps, { giftId: String(gift._id), paidAt: occurredAt, campaign: gift.campaign });
  if (gift.deliverAt <= deps.clock.now()) await deliverDueGifts(deps);
  return 'applied';
}

/** Sends the recipient a fresh redemption link; the previous code stops working. */
async function sendCode(
  deps: GiftDeps,
  gift: Gift,
  template: 'gift-delivery' | 'gift-reminder',
  idempotencyKey: string,
  code = newCode(),
) {
  await keyGift(deps.db, codeKey(hashCode(code)), gift._id);
  await giftModel(deps.db).updateOne({ _id: gift._id }, { $set: { codeHash: hashCode(code) } });
  const redeemUrl = `${deps.publicBaseUrl}/gifts/redeem?code=${code}`;
  const data =
    template === 'gift-delivery'
      ? {
          recipientName: gift.recipient.name,
          fromName: gift.showPurchaserName ? gift.purchaser.name : undefined,
          message: gift.message,
          durationMonths: gift.durationMonths,
          redeemUrl,
        }
      : { recipientName: gift.recipient.name, durationMonths: gift.durationMonths, redeemUrl };
  await enqueueEmail(deps.db, deps.clock, {
    template,
    to: gift.recipient,
    locale: gift.locale,
    data,
    idempotencyKey,
  } as never);
}

/** A delivery decided longer ago than this and still unfinished has lost its process. */
export const DELIVERY_FINISH_MS = 60_000;

/**
 * Delivers every paid gift whose time has come, once each, whatever the number of schedulers. The
 * claim `gift-deliver:<gift>` records when delivery was decided; the winner delivers, and a later
 * run finishes a delivery decided over a minute ago that never finished (a crash or a failed write),
 * so no paid gift is skipped for good.
 */
export async function deliverDueGifts(deps: GiftDeps): Promise<number> {
  const now = deps.clock.now();
  const due = await giftModel(deps.db)
    .find({ status: 'paid', deliverAt: { $lte: now } })
    .sort({ deliverAt: 1, _id: 1 })
    .limit(100)
    .lean<Gift[]>();
  let delivered = 0;
  for (const gift of due) {
    const { won, decision, decidedAt } = await decideOnce(deps.db, `gift-deliver:${gift._id}`, now, {
      at: now,
    });
    if (!won && now.getTime() - decidedAt.getTime() < DELIVERY_FINISH_MS) continue;
    // A claim from before decisions were recorded names no time: the claim's own time stands in.
    if (await finishDelivery(deps, gift, decision?.at ?? decidedAt)) delivered++;
  }
  return delivered;
}

/**
 * The delivery's writes, each idempotent: the code (derived from the decision, so a retry emails the
 * same code), its email, then the gift's status as the "done" marker. A gift refunded (or redeemed)
 * since it was found is not sent.
 */
async function finishDelivery(deps: GiftDeps, gift: Gift, at: Date): Promise<boolean> {
  const current = await giftModel(deps.db).findById(gift._id).select({ status: 1 }).lean<Gift>();
  if (current?.status !== 'paid') return false;
  if (await hasClaim(deps.db, decisionKey(gift))) return false; // refund or redemption decided
  const code = createHmac('sha256', deps.linkSecret)
    .update(`gift-delivery:${gift._id}:${at.toISOString()}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url'); // 128 bits, like newCode()
  await sendCode(deps, gift, 'gift-delivery', `gift-delivery:${gift._id}`, code);
  await giftModel(deps.db).updateOne(
    { _id: gift._id, status: 'paid' },
    { $set: { status: 'delivered', deliveredAt: at, expiresAt: addMonths(at, deps.expiryMonths) } },
  );
  deps.logger.info({ giftId: String(gift._id) }, 'gift delivered');
  return true;
}

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

const decisionKey = (gift: Pick<Gift, '_id'>) => `gift-redeem:${gift._id}`;
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
  // The email's key names the member-to-be, so every gift redeemed by this new email, however
  // concurrently, plans the same member (createMemberOnce's rule: the first claim of the key wins).
  if (!existing)
    return {
      kind: 'new',
      memberId: await claimMemberKey(deps.db, emailKey(email), new Types.ObjectId()),
      base: now,
    };
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
  const { Member, Subscription } = membershipModels(deps.db);
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
    try {
      await Member.create({
        _id: plan.memberId,
        email,
        name: gift.recipient.name,
        locale: gift.locale,
        status: 'active',
        source: 'gift',
        joinedAt: at,
        joinedVia: `gift:${gift._id}`,
        currentPeriodEnd: addMonths(at, gift.durationMonths),
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // created by a racing redemption under the same id
    }
    // The create's hook writes the member's keys; a finish after a crash makes sure they exist.
    await ensureMemberKeys(deps.db, [{ _id: plan.memberId, email }]);
    // Published on every finish: listeners are idempotent, and a crash must not lose it.
    await deps.events.publish('member.joined', {
      memberId: String(plan.memberId),
      email,
      joinedAt: at,
      source: 'gift',
    });
  } else if (plan.kind === 'paying') {
    await deps.stripe?.subscriptions.update(
      plan.subscriptionId,
      { trial_end: Math.floor(plan.nextCharge.getTime() / 1000), proration_behavior: 'none' },
      { idempotencyKey: `gift-redeem:${gift._id}` },
    );
    await Subscription.updateOne(
      { _id: plan.subscriptionId },
      { $set: { currentPeriodEnd: plan.nextCharge } },
    );
    await Member.updateOne({ _id: plan.memberId }, { $set: { currentPeriodEnd: plan.nextCharge } });
  }
  if (plan.kind !== 'paying') await settleGiftTime(deps, plan.memberId, at);
  await enqueueEmail(deps.db, deps.clock, {
    template: 'gift-redeemed',
    to: gift.purchaser,
    locale: gift.locale,
    data: { name: gift.purchaser.name, recipientName: gift.recipient.name },
    idempotencyKey: `gift-redeemed:${gift._id}`,
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
  if (decision && gift.status !== 'redeemed' && !(await redemptionFinished(deps, gift))) {
    if (now.getTime() - decidedAt.getTime() < REDEMPTION_FINISH_MS)
      throw new Error(`gift ${gift._id} is being redeemed; the refund applies once that has finished`);
    await finishRedemption(deps, gift, decision);
  }
  const memberId = gift.redeemedBy ?? decision?.plan.memberId;
  // A paying member's gift moved their next charge; that charge stays where it is.
  if (memberId && decision?.plan.kind !== 'paying') await takeBackGiftTime(deps, gift, memberId, at);
  await finishRefund(deps, gift, at);
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
  const { Member } = membershipModels(deps.db);
  const member = await Member.findById(memberId).lean<Member>();
  if (member?.source === 'gift')
    await Member.updateOne(
      { _id: member._id },
      { $set: { status: 'expired', currentPeriodEnd: at, endedAt: at } },
    );
}

/** The daily round: reminders after 7 and 30 days, expiry, and gift memberships nearing or past their end. */
export async function sweepGifts(deps: GiftDeps): Promise<void> {
  const now = deps.clock.now();
  const Gifts = giftModel(deps.db);
  for (const gift of await Gifts.find({ status: 'delivered' }).lean<Gift[]>()) {
    if (gift.expiresAt && gift.expiresAt <= now) {
      await Gifts.updateOne({ _id: gift._id, status: 'delivered' }, { $set: { status: 'expired' } });
      await enqueueEmail(deps.db, deps.clock, {
        template: 'gift-expired',
        to: gift.purchaser,
        locale: gift.locale,
        data: { name: gift.purchaser.name, recipientName: gift.recipient.name },
        idempotencyKey: `gift-expired:${gift._id}`,
      });
      continue;
    }
    for (const days of [30, 7]) {
      if (gift.deliveredAt && now.getTime() - gift.deliveredAt.getTime() >= days * DAY_MS) {
        if (await claimOnce(deps.db, `gift-reminder:${gift._id}:${days}`, now)) {
          await sendCode(deps, gift, 'gift-reminder', `gift-reminder:${gift._id}:${days}`);
        }
        break;
      }
    }
  }
  const { Member, Subscription } = membershipModels(deps.db);
  const giftMembers = await Member.find({ source: 'gift', status: 'active' }).lean<Member[]>();
  for (const member of giftMembers) {
    if (!member.currentPeriodEnd) continue;
    const paying = await Subscription.exists({
      memberId: member._id as Types.ObjectId,
      status: { $in: ['active', 'trialing'] },
    });
    if (paying) continue;
    if (member.currentPeriodEnd <= now) {
      await Member.updateOne(
        { _id: member._id, status: 'active' },
        { $set: { status: 'expired', endedAt: member.currentPeriodEnd } },
      );
    } else if (member.currentPeriodEnd.getTime() - now.getTime() <= 7 * DAY_MS) {
      await enqueueEmail(deps.db, deps.clock, {
        template: 'gift-ending',
        to: { email: member.email, name: member.name },
        locale: member.locale,
        data: {
          name: member.name,
          endsOn: longDate(member.currentPeriodEnd, deps.timeZone),
          continueUrl: continueUrl(deps, String(member._id)),
        },
        idempotencyKey: `gift-ending:${member._id}:${member.currentPeriodEnd.toISOString()}`,
      });
    }
  }
}

/** Before delivery the purchaser may change the recipient's email or the day. */
export async function updateGiftBeforeDelivery(
  deps: GiftDeps,
  giftId: string,
  changes: { recipientEmail: string; deliverOn: string },
) {
  const gift = await giftModel(deps.db).findById(giftId).lean<Gift>();
  if (!gift || !['pending_payment', 'paid'].includes(gift.status))
    throw new AppError('conflict', 'This gift has already been delivered.');
  const now = deps.clock.now();
  const today = calendarKeys(now, deps.timeZone).day;
  const lastDay = calendarKeys(new Date(now.getTime() + 365 * DAY_MS), deps.timeZone).day;
  if (changes.deliverOn < today || changes.deliverOn > lastDay) {
    throw new AppError('validation_failed', undefined, [
      { path: 'deliverOn', message: 'Choose a delivery date from today up to a year ahead' },
    ]);
  }
  const deliverAt =
    changes.deliverOn === today ? now : zonedHourToUtc(changes.deliverOn, deps.deliveryHour, deps.timeZone);
  await giftModel(deps.db).updateOne(
    { _id: gift._id, status: { $in: ['pending_payment', 'paid'] } },
    { $set: { 'recipient.email': changes.recipientEmail, deliverAt } },
  );
  if (deliverAt <= now) await deliverDueGifts(deps);
}

/** After delivery the purchaser may resend the gift email: it carries a new code, the old one stops working. */
export async function resendGift(deps: GiftDeps, giftId: string): Promise<void> {
  const gift = await giftModel(deps.db).findById(giftId).lean<Gift>();
  if (gift?.status !== 'delivered')
    throw new AppError('conflict', 'Only a delivered, unredeemed gift can be sent again.');
  const now = deps.clock.now();
  // One resend per 10 minutes: a purchaser's double click must not send two codes.
  if (!(await claimOnce(deps.db, `gift-resend:${gift._id}:${Math.floor(now.getTime() / 600_000)}`, now)))
    return;
  await sendCode(deps, gift, 'gift-delivery', `gift-resend:${gift._id}:${now.getTime()}`);
}

export const describeDeliveryDay = (gift: Gift, timeZone: string) => longDate(gift.deliverAt, timeZone);
export const deliveryDayValue = (gift: Gift, timeZone: string) => calendarKeys(gift.deliverAt, timeZone).day;
