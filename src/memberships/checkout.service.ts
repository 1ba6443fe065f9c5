import { createHash, randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { z } from 'zod';
import type { CheckoutSettings } from '../config/config.js';
import { AppError } from '../http/errors.js';
import { emailField } from '../http/validate.js';
import type { Logger } from '../infra/logger.js';
import { type Attribution, attributionToMetadata } from '../shared/attribution.js';
import { formatMoney, LOCALES, parseAmountInUnits, translate } from '../shared/messages.js';
import { attributionFields, parseAttribution } from './attribution-input.js';
import { findMemberByEmail } from './member-keys.js';
import { CURRENCIES, INTERVALS, type Plans } from './plans.js';
import { findCatalogPrice, lookupKeyOf } from './stripe-catalog.js';

/** Marks Checkout Sessions as ours: a session without it (another app on a shared account) is ignored. */
export const METADATA_APP = 'membership-drive';

const reader = {
  email: emailField,
  name: z.string().trim().max(200).optional(),
  currency: z.enum(CURRENCIES),
  campaign: z
    .string()
    .regex(/^[a-z0-9-]{1,60}$/)
    .optional(),
  locale: z.enum(LOCALES).default('en'),
  amountDecimal: z
    .preprocess((v) => (v === '' ? undefined : v), z.string().max(40).optional())
    .meta({
      description:
        'The amount as a person types it, in currency units ("7.50" or "7,50"); what the hosted form sends. Wins over `amount`.',
    }),
  // Where the checkout came from (attribution-input.ts bounds and strips them).
  ...attributionFields,
};

export const checkoutRequestSchema = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('membership'),
      plan: z
        .string()
        .min(1)
        .max(40)
        .meta({ description: 'A tier id from GET /memberships/plans, or "custom"' }),
      interval: z.enum(INTERVALS),
      amount: z.coerce
        .number()
        .int()
        .positive()
        .optional()
        .meta({ description: 'Minor units; only for plan "custom"' }),
      ...reader,
    }),
    z.object({
      kind: z.literal('one_time'),
      amount: z.coerce
        .number()
        .int()
        .positive()
        .optional()
        .meta({ description: 'Minor units (750 = 7.50); or send amountDecimal' }),
      ...reader,
    }),
  ])
  .meta({ id: 'CheckoutRequest' });
export type CheckoutRequest = z.infer<typeof checkoutRequestSchema>;

/**
 * The one Stripe call checkout makes: Stripe's client, or in development without a key the local
 * checkout (src/dev/local-checkout.ts).
 */
export interface CheckoutSessions {
  checkout: {
    sessions: {
      create(
        params: Stripe.Checkout.SessionCreateParams,
        options?: Stripe.RequestOptions,
      ): Promise<{ id: string; url: string | null }>;
    };
  };
}

export interface CheckoutDeps {
  db: Connection;
  stripe: CheckoutSessions;
  plans: Plans;
  publicBaseUrl: string;
  /** Promotion codes, tax, charity statement; all off when absent. */
  settings?: CheckoutSettings;
  logger?: Logger;
}

const NO_SETTINGS: CheckoutSettings = { promotionCodes: false, automaticTax: false, taxIdCollection: false };

/**
 * A tier is sold at its Stripe Price (made by `npm run stripe:setup`), so the Customer Portal can
 * switch a member between tiers and intervals. Custom amounts and one-time contributions have no
 * Price and go as price_data; so does a tier whose Price is missing or has another amount than the
 * plans say (setup not run since the plans changed), with a warning rather than a wrong charge.
 */
async function lineItemFor(
  deps: CheckoutDeps,
  request: CheckoutRequest,
  chosen: { plan: string; name: string; amount: number },
): Promise<Stripe.Checkout.SessionCreateParams.LineItem> {
  const interval = request.kind === 'membership' ? request.interval : undefined;
  if (interval && chosen.plan !== 'custom') {
    const key = lookupKeyOf(chosen.plan, interval, request.currency);
    const price = await findCatalogPrice(deps.db, key, chosen.amount);
    if (price) return { quantity: 1, price: price.priceId };
    deps.logger?.warn(
      { lookupKey: key },
      'no Stripe Price for this tier and amount: run npm run stripe:setup',
    );
  }
  const taxInclusive = request.kind === 'membership' && deps.settings?.automaticTax;
  return {
    quantity: 1,
    price_data: {
      currency: request.currency,
      unit_amount: chosen.amount,
      product_data: { name: chosen.name },
      ...(interval ? { recurring: { interval } } : {}),
      ...(taxInclusive ? { tax_behavior: 'inclusive' as const } : {}),
    },
  };
}

/**
 * The newsroom's Checkout settings as Stripe parameters. Promotion codes and tax apply to
 * memberships (a membership with benefits may owe VAT; a donation does not); the charity statement
 * is shown above the pay button of every session.
 */
function settingsParams(
  settings: CheckoutSettings,
  request: CheckoutRequest,
  existingCustomer: boolean,
): Partial<Stripe.Checkout.SessionCreateParams> {
  const membership = request.kind === 'membership';
  const tax = membership && settings.automaticTax;
  const taxIds = membership && settings.taxIdCollection;
  return {
    ...(membership && settings.promotionCodes ? { allow_promotion_codes: true } : {}),
    ...(tax ? { automatic_tax: { enabled: true } } : {}),
    ...(taxIds ? { tax_id_collection: { enabled: true } } : {}),
    // Stripe computes tax from, and stores tax ids on, the customer: a known customer's address and
    // name must be allowed to come from what they enter at Checkout.
    ...((tax || taxIds) && existingCustomer ? { customer_update: { address: 'auto', name: 'auto' } } : {}),
    ...(settings.charityStatement ? { custom_text: { submit: { message: settings.charityStatement } } } : {}),
  };
}

/**
 * The amount the reader chose, in minor units: typed in currency units ("7.50" → 750, no floating
 * point) or sent as minor units by an API client; checked against the plan's range. Messages are
 * in the reader's language, and name the field the reader typed into.
 */
function chosenAmount(request: CheckoutRequest, range: { min: number; max: number } | undefined): number {
  const { locale, currency } = request;
  const field = request.amountDecimal !== undefined ? 'amountDecimal' : 'amount';
  const invalid = (message: string, path = field) =>
    new AppError('validation_failed', undefined, [{ path, message }]);
  if (!range)
    throw invalid(translate(locale, 'error.currency', { currency: currency.toUpperCase() }), 'currency');
  const amount =
    request.amountDecimal !== undefined
      ? parseAmountInUnits(request.amountDecimal, currency)
      : request.amount;
  if (amount === undefined) {
    throw invalid(
      translate(locale, request.amountDecimal !== undefined ? 'error.amountFormat' : 'error.amountMissing'),
    );
  }
  if (amount < range.min || amount > range.max) {
    const show = (minor: number) => formatMoney(minor, currency.toUpperCase(), locale);
    throw invalid(translate(locale, 'error.amountRange', { min: show(range.min), max: show(range.max) }));
  }
  return amount;
}

/** Resolves what the reader asked for against the configured plans: name and price, or a 422. */
function priceFor(plans: Plans, request: CheckoutRequest): { plan: string; name: string; amount: number } {
  if (request.kind === 'one_time') {
    return {
      plan: 'one_time',
      name: translate(request.locale, 'membership.oneTimeName'),
      amount: chosenAmount(request, plans.oneTime[request.currency]),
    };
  }
  if (request.plan === 'custom') {
    return {
      plan: 'custom',
      name: 'Membership',
      amount: chosenAmount(request, plans.customAmount[request.currency]),
    };
  }
  const tier = plans.tiers.find((t) => t.id === request.plan);
  const price = tier?.prices[request.currency]?.[request.interval];
  if (!tier)
    throw new AppError('validation_failed', undefined, [
      { path: 'plan', message: `There is no plan "${request.plan}"` },
    ]);
  if (!price)
    throw new AppError('validation_failed', undefined, [
      { path: 'currency', message: `${tier.name} is not offered in ${request.currency.toUpperCase()}` },
    ]);
  return { plan: tier.id, name: `${tier.name} membership`, amount: price };
}

/** A stable reference for a client's idempotency key, shaped like the random ones (a UUID's length). */
function referenceFor(idempotencyKey: string): string {
  const hex = createHash('sha256').update(`checkout:${idempotencyKey}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Creates a Stripe Checkout Session for a membership (subscription mode) or a one-time
 * contribution (payment mode), at the tier's Stripe Price or as price_data (lineItemFor);
 * metadata says what the session is for, and the webhook fulfils it.
 */
export async function createCheckoutSession(
  deps: CheckoutDeps,
  request: CheckoutRequest,
  idempotencyKey: string | undefined,
  /** A gift member continuing: the first charge waits until their gift ends. */
  options: { trialEnd?: Date } = {},
): Promise<{ sessionId: string; url: string; reference: string; attribution?: Attribution }> {
  const attribution = parseAttribution(request);
  const chosen = priceFor(deps.plans, request);
  const { plan } = chosen;
  // A client's retry (the same Idempotency-Key) must send Stripe the very same parameters, or
  // Stripe refuses it instead of returning the session it made: the reference follows the key.
  const reference = idempotencyKey ? referenceFor(idempotencyKey) : randomUUID();
  const interval = request.kind === 'membership' ? request.interval : undefined;
  const metadata: Record<string, string> = {
    app: METADATA_APP,
    kind: request.kind,
    plan,
    reference,
    locale: request.locale,
    ...(interval ? { interval } : {}),
    ...(request.campaign ? { campaign: request.campaign } : {}),
    ...(request.name ? { name: request.name } : {}),
    // Up to nine `attr_*` keys: well inside Stripe's 50 keys of 40 characters, values under 500.
    ...attributionToMetadata(attribution),
  };
  const known = await findMemberByEmail(deps.db, request.email);
  const customer = known?.stripeCustomerId
    ? { customer: known.stripeCustomerId }
    : {
        customer_email: request.email,
        ...(request.kind === 'one_time' ? { customer_creation: 'always' as const } : {}),
      };

  const session = await deps.stripe.checkout.sessions.create(
    {
      mode: request.kind === 'membership' ? 'subscription' : 'payment',
      line_items: [await lineItemFor(deps, request, chosen)],
      ...customer,
      ...settingsParams(deps.settings ?? NO_SETTINGS, request, Boolean(known?.stripeCustomerId)),
      client_reference_id: reference,
      metadata,
      ...(request.kind === 'membership'
        ? {
            subscription_data: {
              metadata,
              ...(options.trialEnd ? { trial_end: Math.floor(options.trialEnd.getTime() / 1000) } : {}),
            },
          }
        : { payment_intent_data: { metadata }, submit_type: 'donate' as const }),
      // Stripe Checkout has no Ukrainian: let it follow the browser.
      locale: request.locale === 'en' ? 'en' : 'auto',
      success_url: `${deps.publicBaseUrl}/membership/thanks?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${deps.publicBaseUrl}/membership`,
    },
    { idempotencyKey: `checkout:${idempotencyKey ?? reference}` },
  );
  if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
  return { sessionId: session.id, url: session.url, reference, attribution };
}
