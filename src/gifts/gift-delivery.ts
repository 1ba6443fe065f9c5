import { createHmac } from 'node:crypto';
import { enqueueEmail } from '../email/outbox.service.js';
import { AppError } from '../http/errors.js';
import { claimOnce, decideOnce, hasClaim } from '../infra/claims.js';
import { translate } from '../shared/messages.js';
import { addMonths } from '../shared/time.js';
import {
  codeKey,
  type Gift,
  type GiftDue,
  giftDueModel,
  giftModel,
  keyGift,
  listOpenGift,
} from './gift.model.js';
import { DAY_MS, hashCode, newCode } from './gift-common.js';
import type { GiftDeps } from './gift-deps.js';
import { decisionKey } from './gift-redemption.js';

// Delivering a paid gift on its day: a code, emailed to the recipient, once whatever the number of
// schedulers; a reminder or a resend sends a fresh code and the previous one stops working.

/** Sends the recipient a fresh redemption link; the previous code stops working. */
export async function sendCode(
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
 * Delivers every paid gift whose time has come, once each, whatever the number of schedulers. It
 * reads the `gift_due` list (paid gifts not delivered yet, written before a gift is marked paid),
 * never the gifts: each due one is then read by `_id`, the one filter FerretDB answers from its
 * index. The claim `gift-deliver:<gift>` records when delivery was decided; the winner delivers,
 * and a later run finishes a delivery decided over a minute ago that never finished (a crash or a
 * failed write), so no paid gift is skipped for good.
 */
export async function deliverDueGifts(deps: GiftDeps): Promise<number> {
  const now = deps.clock.now();
  const Due = giftDueModel(deps.db);
  const due = (await Due.find().lean<GiftDue[]>())
    .filter((d) => d.deliverAt <= now)
    .sort(
      (a, b) => a.deliverAt.getTime() - b.deliverAt.getTime() || String(a._id).localeCompare(String(b._id)),
    )
    .slice(0, 100);
  let delivered = 0;
  for (const { _id, deliverAt } of due) {
    const gift = await giftModel(deps.db).findById(_id).lean<Gift>();
    if (gift?.status === 'paid' && gift.deliverAt <= now && (await deliverGift(deps, gift, now))) delivered++;
    // Delivered by another scheduler, refunded or redeemed: nothing left to do. A gift whose payment
    // is still being written (listed, not yet paid) stays listed, and so, for a day, does one not
    // stored yet (a sponsored gift is listed just before it is created).
    else if (
      gift ? !['pending_payment', 'paid'].includes(gift.status) : now.getTime() - deliverAt.getTime() > DAY_MS
    )
      await Due.deleteOne({ _id });
  }
  return delivered;
}

/**
 * Delivers one gift just paid for today (or moved to today), as the scheduler would: the webhook
 * and the purchaser's change call this rather than wait up to a minute for `deliverDueGifts`.
 */
export async function deliverGiftIfDue(deps: GiftDeps, giftId: Gift['_id']): Promise<boolean> {
  const now = deps.clock.now();
  const gift = await giftModel(deps.db).findById(giftId).lean<Gift>();
  if (gift?.status !== 'paid' || gift.deliverAt > now) return false;
  return deliverGift(deps, gift, now);
}

async function deliverGift(deps: GiftDeps, gift: Gift, now: Date): Promise<boolean> {
  const { won, decision, decidedAt } = await decideOnce(deps.db, `gift-deliver:${gift._id}`, now, {
    at: now,
  });
  if (!won && now.getTime() - decidedAt.getTime() < DELIVERY_FINISH_MS) return false;
  // A claim from before decisions were recorded names no time: the claim's own time stands in.
  return finishDelivery(deps, gift, decision?.at ?? decidedAt);
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
  // Read again just before writing, then write by `_id` alone: `{_id, status}` would read every gift
  // on FerretDB, where a conditional update is no more atomic than this (ADR 0001).
  const before = await giftModel(deps.db).findById(gift._id).select({ status: 1 }).lean<Gift>();
  if (before?.status !== 'paid' || (await hasClaim(deps.db, decisionKey(gift)))) return false;
  // Listed for the sweep's reminders and expiry before it is delivered, as it was for delivery.
  await listOpenGift(deps.db, gift._id, new Date(at.getTime() + 7 * DAY_MS));
  await giftModel(deps.db).updateOne(
    { _id: gift._id },
    { $set: { status: 'delivered', deliveredAt: at, expiresAt: addMonths(at, deps.expiryMonths) } },
  );
  // After the status, so a crash in between leaves the gift listed and the next run removes it.
  await giftDueModel(deps.db).deleteOne({ _id: gift._id });
  deps.logger.info({ giftId: String(gift._id) }, 'gift delivered');
  return true;
}

/** After delivery the purchaser may resend the gift email: it carries a new code, the old one stops working. */
export async function resendGift(deps: GiftDeps, giftId: string): Promise<void> {
  const gift = await giftModel(deps.db).findById(giftId).lean<Gift>();
  if (gift?.status !== 'delivered')
    throw new AppError('conflict', translate('en', 'gifts.problem.notDelivered'));
  const now = deps.clock.now();
  // One resend per 10 minutes: a purchaser's double click must not send two codes.
  if (!(await claimOnce(deps.db, `gift-resend:${gift._id}:${Math.floor(now.getTime() / 600_000)}`, now)))
    return;
  await sendCode(deps, gift, 'gift-delivery', `gift-resend:${gift._id}:${now.getTime()}`);
}
