import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { membershipModels, type Subscription } from '../memberships/membership.model.js';
import { couponOf } from '../memberships/subscription-mirror.js';
import type { PricedDiscounts } from './mrr.js';

const LIVE = new Set(['active', 'trialing', 'past_due', 'unpaid', 'paused']);

/**
 * The coupons behind discounts the mirror knows only by id (Stripe's webhooks do not expand
 * `discounts`), looked up when finance pulls MRR: one Stripe call per live discounted subscription,
 * one per coupon of an item discount. A call that fails leaves its discounts unpriced, and the
 * report says how many (src/reports/README.md, "MRR").
 */
export async function priceDiscounts(db: Connection, stripe: Stripe): Promise<PricedDiscounts> {
  const priced: PricedDiscounts = new Map();
  const coupons = new Map<string, Stripe.Coupon>();
  const subscriptions = membershipModels(db)
    .Subscription.find()
    .select({ status: 1, billing: 1 })
    .lean<Subscription>()
    .cursor({ batchSize: 500 }) as AsyncIterable<Subscription>;
  for await (const sub of subscriptions) {
    if (!LIVE.has(sub.status) || !sub.billing?.discounts.some((d) => !d.coupon)) continue;
    const live = await stripe.subscriptions
      .retrieve(sub._id, { expand: ['discounts.source.coupon', 'items.data.discounts'] })
      .catch(() => undefined);
    const discounts = [
      ...(live?.discounts ?? []),
      ...(live?.items.data.flatMap((item) => item.discounts ?? []) ?? []),
    ];
    for (const discount of discounts) {
      if (typeof discount === 'string') continue;
      const source = discount.source?.coupon;
      let coupon = typeof source === 'string' ? coupons.get(source) : (source ?? undefined);
      if (!coupon && typeof source === 'string') {
        coupon = await stripe.coupons.retrieve(source).catch(() => undefined);
        if (coupon) coupons.set(source, coupon);
      }
      if (coupon) priced.set(discount.id, couponOf(coupon));
    }
  }
  return priced;
}
