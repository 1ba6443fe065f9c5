import type { Request } from 'express';
import type { AppError } from '../http/errors.js';
import { fieldErrorsOf } from '../http/pages.js';
import { formatMoney, type Locale, translate } from '../shared/messages.js';
import { type AttributionInput, attributionFields, parseAttribution } from './attribution-input.js';
import { CURRENCIES, type Currency, type Plans } from './plans.js';

// What the hosted membership form shows: each tier's price in the chosen currency, the amount
// limits in currency units, and (after a failed post) what the reader typed and each field's problem.

const campaignOf = (value: unknown) =>
  typeof value === 'string' && /^[a-z0-9-]{1,60}$/.test(value) ? value : undefined;
const text = (value: unknown) => (typeof value === 'string' ? value.slice(0, 200) : '');

/**
 * What the page carries on to checkout in hidden fields: where the reader came from, as the button,
 * the widget or a newsletter link put it in the address (else the Referer header). A value that
 * would be refused is left out here, so a bad link never blocks a reader from paying.
 */
export function attributionCarried(req: Request): { name: string; value: string }[] {
  const source = { ...(req.body ?? {}), ...req.query } as Record<string, unknown>;
  const carried: { name: string; value: string }[] = [];
  for (const name of Object.keys(attributionFields) as (keyof AttributionInput)[]) {
    let value = source[name];
    if (name === 'referrer' && value === undefined && req.method === 'GET') {
      const header = req.get('referer');
      // Our own pages are not a source (a currency or language link on this page).
      value = header && !header.startsWith(`${req.protocol}://${req.get('host')}/`) ? header : undefined;
    }
    if (typeof value !== 'string' || !value) continue;
    try {
      parseAttribution({ [name]: value });
      carried.push({ name, value });
    } catch {
      // refused: left out
    }
  }
  return carried;
}

/** Currencies at least one tier is priced in; the page offers these. */
export const offeredCurrencies = (plans: Plans) =>
  CURRENCIES.filter((c) => plans.tiers.some((t) => t.prices[c]));

export function membershipForm(plans: Plans, req: Request, locale: Locale, error?: AppError) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const offered = offeredCurrencies(plans);
  const asked = req.query.currency ?? body.currency;
  // Ukrainian readers pay in euros unless they choose otherwise (no hryvnia on our Stripe account).
  const preferred: Currency = locale === 'uk' && offered.includes('eur') ? 'eur' : offered[0]!;
  const currency = offered.find((c) => c === asked) ?? preferred;
  const money = (minor: number | undefined) =>
    minor === undefined ? '' : formatMoney(minor, currency.toUpperCase(), locale);
  const plan = typeof body.plan === 'string' ? body.plan : plans.tiers[0]!.id;
  const fieldErrors = fieldErrorsOf(error?.details, locale);
  const amountError = fieldErrors.amountDecimal ?? fieldErrors.amount;
  const campaign = campaignOf(req.query.campaign ?? body.campaign);
  const attribution = attributionCarried(req);
  const carry = Object.fromEntries(attribution.map(({ name, value }) => [name, value]));
  return {
    campaign,
    attribution,
    currency,
    kind: body.kind === 'one_time' ? 'one_time' : 'membership',
    tiers: plans.tiers.map((tier) => ({
      id: tier.id,
      name: tier.name,
      description: tier.description,
      checked: tier.id === plan,
      price: tier.prices[currency]
        ? translate(locale, 'membership.price', {
            month: money(tier.prices[currency].month),
            year: money(tier.prices[currency].year),
          })
        : undefined,
    })),
    customChecked: plan === 'custom',
    yearly: body.interval === 'year',
    currencies: offered.map((code) => {
      const href = new URLSearchParams({
        currency: code,
        locale,
        ...(campaign ? { campaign } : {}),
        ...carry,
      });
      return { code, label: code.toUpperCase(), selected: code === currency, href: `/membership?${href}` };
    }),
    currencyName: currency.toUpperCase(),
    amountHint: translate(locale, 'membership.amountHint', {
      example: locale === 'uk' ? '7,50' : '7.50',
      min: money(plans.customAmount[currency]?.min),
      oneTimeMin: money(plans.oneTime[currency]?.min),
    }),
    values: { amountDecimal: text(body.amountDecimal), email: text(body.email), name: text(body.name) },
    errors: {
      amount: amountError,
      email: fieldErrors.email,
      currency: fieldErrors.currency,
      plan: fieldErrors.plan,
    },
    error: error && { message: error.details?.length ? translate(locale, 'form.problem') : error.message },
  };
}
