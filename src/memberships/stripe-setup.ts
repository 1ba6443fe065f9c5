import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { isMissingInStripe, STRIPE_API_VERSION } from '../infra/stripe.js';
import { METADATA_APP } from './checkout.service.js';
import { CURRENCIES, INTERVALS, type Plans, type Tier } from './plans.js';
import { type CatalogPrice, catalogModels, lookupKeyOf, productIdOf } from './stripe-catalog.js';

// `npm run stripe:setup`: makes the Stripe account match this service, and can be run any number of
// times (after every plans change, on every deploy). Each object is found by something we chose
// (our product ids, lookup keys, our metadata on the Portal configuration, the endpoint's URL);
// it is created when missing, updated when it differs, and left alone when it matches.

export interface StripeSetupDeps {
  db: Connection;
  stripe: Stripe;
  plans: Plans;
  publicBaseUrl: string;
  brandName: string;
  /** The event types the webhook's handler table handles (webhooks/stripe-handlers.ts). */
  events: string[];
}

export interface StripeSetupReport {
  products: { id: string; action: 'created' | 'updated' | 'unchanged' }[];
  prices: {
    lookupKey: string;
    priceId: string;
    action: 'created' | 'replaced' | 'reactivated' | 'unchanged';
  }[];
  portalConfiguration: { id: string; action: 'created' | 'updated' };
  webhookEndpoint: {
    id: string;
    action: 'created' | 'updated';
    url: string;
    apiVersion: string;
    /** Only when the endpoint was created: Stripe shows a signing secret once. */
    secret?: string;
    /** An endpoint on this URL with another API version, left running until the new secret is deployed. */
    replaces?: { id: string; apiVersion: string | null };
  };
}

const PRODUCT_DESCRIPTION_FALLBACK = 'Membership';
const intervalLabel = (interval: string) => (interval === 'year' ? 'yearly' : 'monthly');

export async function setupStripe(deps: StripeSetupDeps): Promise<StripeSetupReport> {
  const products: StripeSetupReport['products'] = [];
  const prices: StripeSetupReport['prices'] = [];
  const portalProducts: { product: string; prices: string[] }[] = [];
  for (const tier of deps.plans.tiers) {
    products.push(await ensureProduct(deps.stripe, tier));
    const tierPrices: string[] = [];
    for (const currency of CURRENCIES) {
      for (const interval of INTERVALS) {
        const amount = tier.prices[currency]?.[interval];
        if (!amount) continue;
        const price = await ensurePrice(deps, tier, interval, currency, amount);
        prices.push(price);
        tierPrices.push(price.priceId);
      }
    }
    portalProducts.push({ product: productIdOf(tier.id), prices: tierPrices });
  }
  const portalConfiguration = await ensurePortalConfiguration(deps, portalProducts);
  const webhookEndpoint = await ensureWebhookEndpoint(deps);
  return { products, prices, portalConfiguration, webhookEndpoint };
}

async function ensureProduct(stripe: Stripe, tier: Tier): Promise<StripeSetupReport['products'][number]> {
  const id = productIdOf(tier.id);
  const wanted = {
    name: `${tier.name} membership`,
    description: tier.description || PRODUCT_DESCRIPTION_FALLBACK,
    metadata: { app: METADATA_APP, tier: tier.id },
  };
  let existing: Stripe.Product;
  try {
    existing = await stripe.products.retrieve(id);
  } catch (error) {
    if (!isMissingInStripe(error)) throw error;
    await stripe.products.create({ id, ...wanted }, { idempotencyKey: `stripe-setup:product:${id}` });
    return { id, action: 'created' };
  }
  const same =
    existing.active &&
    existing.name === wanted.name &&
    existing.description === wanted.description &&
    existing.metadata?.app === METADATA_APP &&
    existing.metadata?.tier === tier.id;
  if (same) return { id, action: 'unchanged' };
  await stripe.products.update(id, { ...wanted, active: true });
  return { id, action: 'updated' };
}

/**
 * One Price per tier, interval and currency, found by its lookup key. A Price's amount cannot
 * change in Stripe: a new amount is a new Price that takes the lookup key over
 * (`transfer_lookup_key`), and the old one is archived. Members already on the old Price keep
 * paying it until they switch; new members and switches get the new one.
 */
async function ensurePrice(
  deps: StripeSetupDeps,
  tier: Tier,
  interval: (typeof INTERVALS)[number],
  currency: (typeof CURRENCIES)[number],
  amount: number,
): Promise<StripeSetupReport['prices'][number]> {
  const lookupKey = lookupKeyOf(tier.id, interval, currency);
  const product = productIdOf(tier.id);
  const found = (await deps.stripe.prices.list({ lookup_keys: [lookupKey], limit: 1 })).data.find(
    (p) => p.lookup_key === lookupKey,
  );
  const matches =
    found &&
    found.unit_amount === amount &&
    found.currency === currency &&
    found.recurring?.interval === interval &&
    (typeof found.product === 'string' ? found.product : found.product.id) === product;
  let priceId: string;
  let action: StripeSetupReport['prices'][number]['action'];
  if (found && matches) {
    priceId = found.id;
    action = found.active ? 'unchanged' : 'reactivated';
    if (!found.active) await deps.stripe.prices.update(found.id, { active: true });
  } else {
    const created = await deps.stripe.prices.create(
      {
        product,
        currency,
        unit_amount: amount,
        recurring: { interval },
        lookup_key: lookupKey,
        transfer_lookup_key: true,
        // The advertised amount is what the reader pays; with Stripe Tax on, tax is inside it.
        tax_behavior: 'inclusive',
        nickname: `${tier.name}, ${intervalLabel(interval)} (${currency.toUpperCase()})`,
        metadata: { app: METADATA_APP, tier: tier.id, interval },
      },
      { idempotencyKey: `stripe-setup:price:${lookupKey}:${amount}` },
    );
    priceId = created.id;
    action = found ? 'replaced' : 'created';
    if (found?.active) await deps.stripe.prices.update(found.id, { active: false });
  }
  const record: Omit<CatalogPrice, '_id'> = {
    priceId,
    productId: product,
    tier: tier.id,
    interval,
    currency,
    unitAmount: amount,
  };
  await catalogModels(deps.db).CatalogPrice.updateOne({ _id: lookupKey }, { $set: record }, { upsert: true });
  return { lookupKey, priceId, action };
}

/** Every reason Stripe's Portal can offer, in its order. */
const CANCELLATION_OPTIONS: Stripe.BillingPortal.ConfigurationCreateParams.Features.SubscriptionCancel.CancellationReason.Option[] =
  [
    'too_expensive',
    'missing_features',
    'switched_service',
    'unused',
    'customer_service',
    'too_complex',
    'low_quality',
    'other',
  ];

/**
 * The Customer Portal configuration members are sent to: switch between tiers and intervals (with
 * proration), update the card, see invoices, change their email and address, cancel at the period's
 * end (saying why, if they like). Ours is the one carrying our metadata; its id is stored for the account page.
 */
async function ensurePortalConfiguration(
  deps: StripeSetupDeps,
  products: { product: string; prices: string[] }[],
): Promise<StripeSetupReport['portalConfiguration']> {
  const params = {
    business_profile: { headline: `${deps.brandName} membership` },
    default_return_url: `${deps.publicBaseUrl}/account`,
    features: {
      customer_update: {
        enabled: true,
        allowed_updates: ['email', 'name', 'address', 'tax_id'] as (
          | 'email'
          | 'name'
          | 'address'
          | 'tax_id'
        )[],
      },
      invoice_history: { enabled: true },
      payment_method_update: { enabled: true },
      subscription_cancel: {
        enabled: true,
        mode: 'at_period_end' as const,
        proration_behavior: 'none' as const,
        // The Portal asks why; Stripe keeps the answer in the subscription's cancellation_details,
        // which the mirror keeps for the cancellation reasons report (src/reports/README.md).
        cancellation_reason: { enabled: true, options: CANCELLATION_OPTIONS },
      },
      subscription_update: {
        enabled: true,
        default_allowed_updates: ['price'] as 'price'[],
        proration_behavior: 'create_prorations' as const,
        products: products.filter((p) => p.prices.length > 0),
      },
    },
    metadata: { app: METADATA_APP },
  };
  const listed = await deps.stripe.billingPortal.configurations.list({ active: true, limit: 100 });
  const ours = listed.data.find((c) => c.metadata?.app === METADATA_APP);
  let id: string;
  let action: 'created' | 'updated';
  if (ours) {
    id = (await deps.stripe.billingPortal.configurations.update(ours.id, params)).id;
    action = 'updated';
  } else {
    id = (await deps.stripe.billingPortal.configurations.create(params)).id;
    action = 'created';
  }
  await catalogModels(deps.db).StripeSetting.updateOne(
    { _id: 'portal-configuration' },
    { $set: { value: id, updatedAt: new Date() } },
    { upsert: true },
  );
  return { id, action };
}

/**
 * The webhook endpoint at PUBLIC_BASE_URL/webhooks/stripe, sending exactly the events the handler
 * table handles, rendered in the pinned API version. An endpoint's API version cannot be changed,
 * so an endpoint on another version is replaced by a new one (its secret printed) and left running
 * until the operator has deployed the new secret and deletes it.
 */
async function ensureWebhookEndpoint(deps: StripeSetupDeps): Promise<StripeSetupReport['webhookEndpoint']> {
  const url = `${deps.publicBaseUrl}/webhooks/stripe`;
  const events = [...deps.events].sort() as Stripe.WebhookEndpointCreateParams.EnabledEvent[];
  const listed = await deps.stripe.webhookEndpoints.list({ limit: 100 });
  const onUrl = listed.data.filter((e) => e.url === url);
  const current = onUrl.find((e) => e.api_version === STRIPE_API_VERSION);
  if (current) {
    await deps.stripe.webhookEndpoints.update(current.id, { enabled_events: events, disabled: false });
    return { id: current.id, action: 'updated', url, apiVersion: STRIPE_API_VERSION };
  }
  const created = await deps.stripe.webhookEndpoints.create({
    url,
    enabled_events: events,
    api_version: STRIPE_API_VERSION,
    description: `${deps.brandName} membership (membership-drive)`,
    metadata: { app: METADATA_APP },
  });
  const old = onUrl[0];
  return {
    id: created.id,
    action: 'created',
    url,
    apiVersion: STRIPE_API_VERSION,
    ...(created.secret ? { secret: created.secret } : {}),
    ...(old ? { replaces: { id: old.id, apiVersion: old.api_version } } : {}),
  };
}
