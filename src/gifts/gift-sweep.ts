import { enqueueEmail } from '../email/outbox.service.js';
import { claimOnce } from '../infra/claims.js';
import { activeGiftMembers, expireGiftMember, hasLiveSubscription } from '../memberships/gift-membership.js';
import { type Gift, giftModel } from './gift.model.js';
import { continueUrl, DAY_MS, longDate } from './gift-common.js';
import { sendCode } from './gift-delivery.js';
import type { GiftDeps } from './gift-deps.js';

// The daily round of gifts; gift members' own status is written by memberships (gift-membership.ts).

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
  for (const member of await activeGiftMembers(deps.db)) {
    if (!member.currentPeriodEnd) continue;
    if (await hasLiveSubscription(deps.db, member._id)) continue;
    if (member.currentPeriodEnd <= now) {
      await expireGiftMember(deps.db, member, member.currentPeriodEnd);
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
