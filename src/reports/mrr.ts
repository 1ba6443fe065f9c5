import type { BillingCoupon, SubscriptionBilling } from '../memberships/membership.model.js';

// What one subscription brings in a month, from what it bills (src/reports/README.md, "MRR"):
// every item's price × quantity, less its discounts, normalised to a year and summed per currency
// as "twelfths" (a year's worth), divided by 12 once per total so no plan loses a cent to rounding.

const PERIODS_PER_YEAR: Record<string, number> = { day: 365, week: 52, month: 12, year: 1 };

/** Coupons the report looked up in Stripe, by discount id (webhooks carry discounts as ids). */
export type PricedDiscounts = Map<string, BillingCoupon>;

export interface Billed {
  /** What one period bills after discounts that still apply at the instant asked about. */
  perPeriod: number;
  /** A year of it: the summed unit (twelfths of a month). */
  twelfths: number;
  /** Discounts whose coupon is not known: not taken off. */
  unpriced: number;
}

function amountOffIn(coupon: BillingCoupon, currency: string): number {
  if (coupon.amountOffByCurrency?.[currency] !== undefined) return coupon.amountOffByCurrency[currency]!;
  return coupon.amountOff !== null && coupon.currency === currency ? coupon.amountOff : 0;
}

/** What a coupon takes off `amount` (Stripe rounds a percentage to the minor unit). */
function discountOn(coupon: BillingCoupon, amount: number, currency: string): number {
  if (amount <= 0) return 0;
  if (coupon.percentOff !== null) return Math.min(amount, Math.round((amount * coupon.percentOff) / 100));
  return Math.min(amount, amountOffIn(coupon, currency));
}

/**
 * The subscription's bill per period at `at`: item discounts first, then the subscription's (as
 * Stripe applies them), each only on the products its coupon applies to. A `once` coupon took its
 * amount off the first invoice only, and a repeating one stops at its `end`: neither is recurring.
 */
export function billedAt(
  billing: SubscriptionBilling,
  currency: string,
  at: Date,
  priced: PricedDiscounts = new Map(),
): Billed {
  const lines = billing.items.map((item) => ({ ...item }));
  let unpriced = 0;
  const item = (id: string | undefined) => lines.filter((l) => l.id === id);
  const ordered = [...billing.discounts.filter((d) => d.item), ...billing.discounts.filter((d) => !d.item)];
  for (const discount of ordered) {
    const coupon = discount.coupon ?? priced.get(discount.id);
    if (!coupon) {
      unpriced++;
      continue;
    }
    if (coupon.duration === 'once') continue;
    if (discount.end !== null && discount.end * 1000 <= at.getTime()) continue;
    const eligible = (discount.item ? item(discount.item) : lines).filter(
      (l) => !coupon.products || (l.product !== null && coupon.products.includes(l.product)),
    );
    const base = eligible.reduce((sum, l) => sum + l.amount, 0);
    let off = discountOn(coupon, base, currency);
    // Spread over the eligible lines so a later discount sees what is left of each.
    for (const line of eligible) {
      const share = Math.min(line.amount, off);
      line.amount -= share;
      off -= share;
    }
  }
  const perPeriod = lines.reduce((sum, l) => sum + l.amount, 0);
  const perYear = (PERIODS_PER_YEAR[billing.interval] ?? 12) / Math.max(1, billing.intervalCount);
  return { perPeriod, twelfths: perPeriod * perYear, unpriced };
}
