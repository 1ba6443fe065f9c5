import { type Connection, Schema } from 'mongoose';
import type { Currency, Interval } from './plans.js';

// The Stripe Products and Prices behind the configured tiers, as `npm run stripe:setup` left them.
// Checkout finds a tier's Price here by its lookup key (one primary-key read, no Stripe call); the
// Customer Portal can only switch between Prices that exist in Stripe, which is why tiers are real
// Prices and not inline price_data. Custom amounts stay price_data: there is no Price to switch to.

/** Stripe lookup key of a tier's price: `membership:<tier>:<interval>:<currency>`. */
export const lookupKeyOf = (tier: string, interval: Interval | string, currency: Currency | string) =>
  `membership:${tier}:${interval}:${currency}`;

/** The tier a lookup key names, or undefined for a price that is not one of ours. */
export function tierOfLookupKey(key: string | null | undefined): string | undefined {
  const match = /^membership:([a-z0-9-]{1,40}):(month|year):[a-z]{3}$/.exec(key ?? '');
  return match?.[1];
}

/** Our own Stripe Product id per tier: stable, so setup finds it again without searching. */
export const productIdOf = (tier: string) => `membership-${tier}`;

export interface CatalogPrice {
  _id: string; // the lookup key
  priceId: string;
  productId: string;
  tier: string;
  interval: string;
  currency: string;
  unitAmount: number;
}

/** Other Stripe objects setup made that the app uses (the Portal configuration). */
export interface StripeSetting {
  _id: 'portal-configuration' | 'webhook-endpoint';
  value: string;
  updatedAt: Date;
}

const catalogPriceSchema = new Schema<CatalogPrice>(
  {
    _id: String,
    priceId: { type: String, required: true },
    productId: { type: String, required: true },
    tier: { type: String, required: true },
    interval: { type: String, required: true },
    currency: { type: String, required: true },
    unitAmount: { type: Number, required: true },
  },
  { versionKey: false },
);

const settingSchema = new Schema<StripeSetting>(
  { _id: String, value: { type: String, required: true }, updatedAt: { type: Date, required: true } },
  { versionKey: false },
);

export function registerStripeCatalogModels(db: Connection): void {
  if (!db.models.CatalogPrice) db.model('CatalogPrice', catalogPriceSchema, 'stripe_prices');
  if (!db.models.StripeSetting) db.model('StripeSetting', settingSchema, 'stripe_settings');
}

export const catalogModels = (db: Connection) => ({
  CatalogPrice: db.model<CatalogPrice>('CatalogPrice'),
  StripeSetting: db.model<StripeSetting>('StripeSetting'),
});

/**
 * The Stripe Price for a tier, when setup made one for exactly this amount. A plans file changed
 * since the last setup (another amount) is not silently charged at the old Price: the caller falls
 * back to price_data and says to run setup again.
 */
export async function findCatalogPrice(
  db: Connection,
  key: string,
  unitAmount: number,
): Promise<CatalogPrice | undefined> {
  const price = await catalogModels(db).CatalogPrice.findById(key).lean<CatalogPrice>();
  return price && price.unitAmount === unitAmount ? price : undefined;
}

/** The Customer Portal configuration setup made (tier and interval switching), if any. */
export async function portalConfigurationId(db: Connection): Promise<string | undefined> {
  const setting = await catalogModels(db)
    .StripeSetting.findById('portal-configuration')
    .lean<StripeSetting>();
  return setting?.value;
}
