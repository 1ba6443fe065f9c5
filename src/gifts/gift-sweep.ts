import { enqueueEmail } from '../email/outbox.service.js';
import { claimOnce } from '../infra/claims.js';
import {
  expireGiftMember,
  giftMembersEndingBy,
  hasLiveSubscription,
} from '../memberships/gift-membership.js';
import { type Gift, type GiftOpen, giftModel, giftOpenModel } from './gift.model.js';
import { continueUrl, DAY_MS, longDate } from './gift-common.js';
import { sendCode } from './gift-delivery.js';
import type { GiftDeps } from './gift-deps.js';

// The hourly round of gifts; gift members' own status is written by memberships (gift-membership.ts),
// which also lists them with the end of their gift time, so the round never searches the members.

/**
 * The hourly round: reminders after 7 and 30 days, expiry, and gift memberships nearing or past
 * their end. Gifts come from the `gift_open` list (delivered gifts with a step to come, each with
 * when), never from the gifts themselves: on FerretDB any filter but `{_id}` decodes every gift.
 */
export async function sweepGifts(deps: GiftDeps): Promise<void> {
  const now = deps.clock.now();
  const Open = giftOpenModel(deps.db);
  const due = (await Open.find().lean<GiftOpen[]>()).filter((o) => o.nextAt <= now);
  for (const { _id } of due) {
    const gift = await giftModel(deps.db).findById(_id).lean<Gift>();
    // Redeemed, refunded or gone: nothing more to send. Still paid: its delivery is finishing.
    if (gift?.status === 'paid') continue;
    if (gift?.status !== 'delivered') {
      await Open.deleteOne({ _id });
      continue;
    }
    const next = await sweepGift(deps, gift, now);
    if (next) await Open.updateOne({ _id }, { $set: { nextAt: next } });
    else await Open.deleteOne({ _id });
  }
  for (const member of await giftMembersEndingBy(deps.db, new Date(now.getTime() + 7 * DAY_MS))) {
    if (!member.currentPeriodEnd) continue;
    if (await hasLiveSubscription(deps.db, member._id)) continue;
    if (member.currentPeriodEnd <= now) {
      await expireGiftMember(deps.db, member, member.currentPeriodEnd);
    } else {
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

/**
 * One delivered gift's step: expiry, or the reminder whose day has come (the 30-day one alone when
 * both have). Returns when the next step is due, or nothing when the gift has expired.
 */
async function sweepGift(deps: GiftDeps, gift: Gift, now: Date): Promise<Date | undefined> {
  const Gifts = giftModel(deps.db);
  if (gift.expiresAt && gift.expiresAt <= now) {
    // The email (idempotent) before the status, which takes the gift off the list: a crash in
    // between sends it on the next round.
    await enqueueEmail(deps.db, deps.clock, {
      template: 'gift-expired',
      to: gift.purchaser,
      locale: gift.locale,
      data: { name: gift.purchaser.name, recipientName: gift.recipient.name },
      idempotencyKey: `gift-expired:${gift._id}`,
    });
    // By `_id` alone, the one filter FerretDB answers from its index: the gift was read just now.
    await Gifts.updateOne({ _id: gift._id }, { $set: { status: 'expired' } });
    return undefined;
  }
  const deliveredAt = gift.deliveredAt?.getTime() ?? now.getTime();
  for (const days of [30, 7]) {
    if (now.getTime() - deliveredAt >= days * DAY_MS) {
      if (await claimOnce(deps.db, `gift-reminder:${gift._id}:${days}`, now)) {
        await sendCode(deps, gift, 'gift-reminder', `gift-reminder:${gift._id}:${days}`);
      }
      break;
    }
  }
  const steps = [deliveredAt + 7 * DAY_MS, deliveredAt + 30 * DAY_MS, gift.expiresAt?.getTime()];
  const next = steps.filter((t): t is number => t !== undefined && t > now.getTime());
  return next.length > 0 ? new Date(Math.min(...next)) : undefined;
}
