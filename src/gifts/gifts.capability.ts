import type { Capability, ProcessContext } from '../infra/capability.js';
import { loadPlans } from '../memberships/plans.js';
import { registerGiftModels } from './gift.model.js';
import { deliverDueGifts, sweepGifts } from './gift.service.js';
import { giftDepsFrom } from './gift-deps.js';
import { type GiftRoutesDeps, giftDocs, giftRoutes } from './gifts.routes.js';

const MINUTE = 60_000;

/** Gift memberships: bought, delivered on their day, redeemed once, refunded. */
export const giftsCapability: Capability<
  ProcessContext & { localCheckout?: GiftRoutesDeps['localCheckout'] }
> = {
  name: 'gifts',
  models: registerGiftModels,
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
