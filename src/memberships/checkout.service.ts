import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { z } from 'zod';
import { AppError } from '../http/errors.js';
import { emailField } from '../http/validate.js';
import { formatMoney, LOCALES, parseAmountInUnits, translate } from '../shared/messages.js';
import { findMemberByEmail } from './member-keys.js';
import { CURRENCIES, INTERVALS, type Plans } from './plans.js';

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

export interface CheckoutDeps {
  db: Connection;
  stripe: Stripe;
  plans: Plans;
  publicBaseUrl: string;
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

/**
 * Creates a Stripe Checkout Session for a membership (subscription mode) or a one-time
 * contribution (payment mode). Prices go as price_data, so nothing is set up in the dashboard;
 * metadata says what the session is for, and the webhook fulfils it.
 */
export async function createCheckoutSession(
  deps: CheckoutDeps,
  request: CheckoutRequest,
  idempotencyKey: string | undefined,
  /** A gift member continuing: the first charge waits until their gift ends. */
  options: { trialEnd?: Date } = {},
): Promise<{ sessionId: string; url: string }> {
  const { plan, name, amount } = priceFor(deps.plans, request);
  const reference = randomUUID();
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
      line_items: [
        {
          quantity: 1,
          price_data: {
            currency: request.currency,
            unit_amount: amount,
            product_data: { name },
            ...(interval ? { recurring: { interval } } : {}),
          },
        },
      ],
      ...customer,
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
  return { sessionId: session.id, url: session.url };
}
