import type { Capability, ProcessContext } from '../infra/capability.js';
import { loadPlans } from '../memberships/plans.js';
import { registerGiftModels } from './gift.model.js';
import { deliverDueGifts, refundGift, sweepGifts } from './gift.service.js';
import { giftDepsFrom } from './gift-deps.js';
import { type GiftRoutesDeps, giftDocs, giftRoutes } from './gifts.routes.js';

const MINUTE = 60_000;

/** Gift memberships: bought, delivered on their day, redeemed once, refunded (or charged back). */
export const giftsCapability: Capability<
  ProcessContext & { localCheckout?: GiftRoutesDeps['localCheckout'] }
> = {
  name: 'gifts',
  models: registerGiftModels,
  // A lost dispute takes the gift back as a full refund does: unredeemable, its drive contribution revoked.
  listen(ctx) {
    const gifts = giftDepsFrom(ctx.config, ctx);
    ctx.events.on('payment.charged_back', async ({ paymentIntentId, occurredAt }) => {
      if (paymentIntentId) await refundGift(gifts, paymentIntentId, occurredAt);
    });
  },
  tasks(ctx) {
    const gifts = giftDepsFrom(ctx.config, ctx);
    return [
      { name: 'gift-delivery', everyMs: MINUTE, run: () => deliverDueGifts(gifts) },
      { name: 'gift-sweep', everyMs: 60 * MINUTE, run: () => sweepGifts(gifts) },
    ];
  },
  routes: (ctx) =>
    giftRoutes({
      ...giftDepsFrom(ctx.config, ctx),
      localCheckout: ctx.localCheckout,
      plans: loadPlans(ctx.config.membershipPlansFile),
      redeemLimitPerIp: 30,
      checkoutLimits: ctx.config.stripe.checkoutLimits,
      automaticTax: ctx.config.stripe.checkout.automaticTax,
    }),
  docs: giftDocs,
};
