import { z } from 'zod';
import { errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
import { ATTRIBUTION_COLUMNS, FUNNEL_COLUMNS } from './attribution.report.js';
import {
  attributionQuery,
  periodQuery,
  revenueQuery,
  stripePeriodQuery,
  supportersQuery,
} from './report-queries.js';
import { SUPPORTER_COLUMNS } from './supporters.report.js';

// The reports in the OpenAPI document: what finance tools and scripts may rely on. Bodies are
// strict, and tests parse real responses with them, so the document cannot drift from the code.

const settledMoney = z.strictObject({
  currency: z.string().meta({ description: 'Settlement currency (the payout currency)' }),
  amount: z.number().int(),
  fees: z.number().int().meta({ description: "Stripe's fees, dispute fees included" }),
  net: z.number().int(),
});
export const revenueBody = z.strictObject({
  timeZone: z.string(),
  by: z.enum(['day', 'month']),
  rows: z.array(
    z.strictObject({
      period: z.string(),
      currency: z.string().meta({ description: 'The currency supporters paid in' }),
      gross: z.number().int(),
      refunds: z.number().int(),
      disputes: z.number().int(),
      net: z.number().int(),
      payments: z.number().int(),
      outOfBand: z.number().int().meta({
        description: 'Invoices paid outside Stripe: money received, not in gross, net or settlement',
      }),
      settlement: z.array(settledMoney),
      unsettled: z.number().int().meta({ description: 'Entries Stripe has not booked yet' }),
    }),
  ),
  settlementTotals: z.array(settledMoney),
});
export const reconciliationBody = z.strictObject({
  timeZone: z.string(),
  from: z.string(),
  to: z.string(),
  clean: z.boolean().meta({ description: 'Nothing missing on either side and no amount differences' }),
  matched: z.number().int(),
  stripeTransactions: z.number().int(),
  missingOurs: z.array(
    z.strictObject({
      balanceTransactionId: z.string(),
      category: z.string(),
      source: z.string().nullable(),
      amount: z.number().int(),
      currency: z.string(),
      settlementAmount: z.number().int(),
      settlementCurrency: z.string(),
      created: z.string(),
    }),
  ),
  missingStripe: z.array(
    z.strictObject({
      entryId: z.string(),
      kind: z.string(),
      amount: z.number().int(),
      currency: z.string(),
      occurredAt: z.string(),
    }),
  ),
  amountDifferences: z.array(
    z.strictObject({
      entryId: z.string(),
      kind: z.string(),
      currency: z.string(),
      ours: z.number().int(),
      stripe: z.number().int(),
      stripeCurrency: z.string(),
      balanceTransactionIds: z.array(z.string()),
    }),
  ),
  otherActivity: z.array(
    z.strictObject({
      category: z.string(),
      currency: z.string(),
      count: z.number().int(),
      net: z.number().int(),
    }),
  ),
  unchecked: z
    .array(
      z.strictObject({
        what: z.enum(['balance_transactions', 'settlement', 'balance_transaction']),
        reference: z
          .string()
          .meta({ description: "A ledger entry's id, or `list` for Stripe's list itself" }),
        error: z.string().meta({ description: 'What Stripe answered' }),
      }),
    )
    .meta({ description: 'What a failing Stripe call left unchecked; the rest of the report stands' }),
});

const int = () => z.number().int();
export const payoutsBody = z.strictObject({
  timeZone: z.string(),
  from: z.string(),
  to: z.string(),
  clean: z
    .boolean()
    .meta({ description: 'Every payout itemised and matching the ledger; nothing unchecked' }),
  payouts: z.array(
    z.strictObject({
      payoutId: z.string(),
      status: z.string().meta({ description: "Stripe's: paid, pending, in_transit, failed, canceled" }),
      automatic: z.boolean(),
      arrivalDate: z.string().meta({ description: 'Expected in the bank (local day)' }),
      created: z.string(),
      currency: z.string().meta({ description: 'The payout currency every figure is in' }),
      amount: int().meta({ description: 'Sent to the bank' }),
      itemised: z.boolean().meta({ description: 'Stripe listed what it carried (automatic payouts only)' }),
      transactions: int(),
      charges: int(),
      refunds: int(),
      disputes: int(),
      fees: int().meta({ description: 'Every Stripe fee it bore, positive' }),
      returnedPayouts: int().meta({ description: 'Money of failed or canceled payouts paid out again here' }),
      other: int(),
      net: int().meta({ description: 'Sum of its transactions: equals amount' }),
      supporterNet: int().meta({ description: "Supporters' money in it, as Stripe booked it" }),
      ledgerNet: int().meta({ description: 'The same transactions as our ledger settled them' }),
      unbooked: int().meta({ description: "Supporters' money no ledger entry books" }),
      failure: z
        .strictObject({
          code: z.string().nullable(),
          message: z.string().nullable(),
          returnedBy: z.string().nullable(),
        })
        .nullable(),
      clean: z.boolean(),
    }),
  ),
  problems: z.array(
    z.discriminatedUnion('problem', [
      z.strictObject({
        problem: z.literal('missing_ours'),
        payoutId: z.string(),
        balanceTransactionId: z.string(),
        category: z.string(),
        source: z.string().nullable(),
        amount: int(),
        currency: z.string(),
      }),
      z.strictObject({
        problem: z.literal('amount_difference'),
        payoutId: z.string(),
        entryId: z.string(),
        kind: z.string(),
        currency: z.string(),
        ours: int(),
        stripe: int(),
        balanceTransactionIds: z.array(z.string()),
      }),
      z.strictObject({
        problem: z.literal('total_mismatch'),
        payoutId: z.string(),
        currency: z.string(),
        amount: int(),
        net: int(),
      }),
    ]),
  ),
  unchecked: z.array(
    z.strictObject({
      what: z.enum(['payouts', 'payout_transactions', 'settlement']),
      reference: z.string(),
      error: z.string(),
    }),
  ),
});
export const taxBody = z.strictObject({
  timeZone: z.string(),
  from: z.string(),
  to: z.string(),
  lines: z.array(
    z.strictObject({
      month: z.string(),
      currency: z.string().meta({ description: 'The currency supporters paid in' }),
      country: z.string(),
      state: z.string(),
      jurisdiction: z.string(),
      taxType: z.string(),
      rate: z.number().nullable().meta({ description: 'Percentage applied' }),
      payments: int(),
      taxable: int(),
      collected: int(),
      refunded: int().meta({ description: 'Tax given back by refunds, negative' }),
      net: int(),
    }),
  ),
  unchecked: z.array(
    z.strictObject({
      what: z.enum(['invoice', 'checkout_session', 'tax_rate']),
      reference: z.string(),
      error: z.string(),
    }),
  ),
});

const attributionLine = z.strictObject({
  value: z
    .string()
    .meta({ description: 'The page, placement, newsletter or referrer host; `(none)` when not known' }),
  members: z.number().int(),
  revenue: z
    .record(z.string(), z.number().int())
    .meta({ description: 'First-year money per currency, refunds off' }),
});
const funnelCounts = {
  view: z.number().int(),
  click: z.number().int(),
  started: z.number().int(),
  paid: z.number().int(),
};
export const funnelBody = z.strictObject({
  total: z.strictObject(funnelCounts),
  byPlacement: z.array(z.strictObject({ placement: z.string(), ...funnelCounts })),
  days: z.array(z.strictObject({ day: z.string(), placement: z.string(), ...funnelCounts })),
});
export const attributionBody = z.strictObject({
  timeZone: z.string(),
  campaign: z.string(),
  from: z.string(),
  to: z.string(),
  totals: attributionLine.omit({ value: true }),
  byArticle: z.array(attributionLine),
  byPlacement: z.array(attributionLine),
  byNewsletter: z.array(attributionLine),
  byReferrer: z.array(attributionLine),
  funnel: funnelBody,
});

export function reportDocs(docs: ApiDocs): void {
  const secured = { security: [{ staffToken: [] }] };
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: errorBodySchema } },
  });
  const supporterRow = z.object(
    Object.fromEntries(SUPPORTER_COLUMNS.map((c) => [c, z.union([z.string(), z.number()])])),
  );
  docs.registerPath({
    method: 'get',
    path: '/reports/supporters',
    tags: ['Reports'],
    summary: `Supporters (finance, admin). Columns: ${SUPPORTER_COLUMNS.join(', ')}. Dates in the newsroom's time zone; amounts in minor units.`,
    ...secured,
    request: { query: supportersQuery },
    responses: {
      200: {
        description: 'JSON page with a cursor, or the whole CSV streamed (format=csv; bom=true for Excel)',
        content: {
          'application/json': {
            schema: z.object({ items: z.array(supporterRow), nextCursor: z.string().nullable() }),
          },
          'text/csv': { schema: z.string() },
        },
      },
      401: error('No or invalid token'),
      403: error('Role not allowed'),
    },
  });
  const report = (
    path: string,
    summary: string,
    query?: z.ZodType<object>,
    extra: Record<number, object> = {},
    params?: z.ZodObject,
    body?: z.ZodType,
  ) =>
    docs.registerPath({
      method: 'get',
      path,
      tags: ['Reports'],
      summary,
      ...secured,
      request: { ...(query ? { query: query as z.ZodObject } : {}), ...(params ? { params } : {}) },
      responses: {
        200: {
          description: 'The report (JSON); amounts in integer minor units with their currency',
          ...(body ? { content: { 'application/json': { schema: body } } } : {}),
        },
        401: error('No or invalid token'),
        403: error('Role not allowed'),
        ...(query ? { 422: error('Invalid filters') } : {}),
        ...extra,
      },
    });
  report(
    '/reports/revenue',
    'Revenue per day or month and currency: gross, refunds, disputes, net, payments; Stripe fees, settled amount and net per settlement currency, with totals (finance, admin). format=csv gives one line per period, currency and settlement currency.',
    revenueQuery,
    {},
    undefined,
    revenueBody,
  );
  report(
    '/reports/summary',
    'Active members by plan and currency (trials on rows of their own), MRR of paying subscriptions (every item × quantity less recurring discounts, normalised to a month), trials and what they bill after, gift members without a subscription, discounts that could not be priced, new, churned, net growth and churn rate for whole local days from..to (finance, admin)',
    periodQuery,
  );
  report(
    '/reports/growth',
    'Per local day: joined, ended, active members and MRR per currency at day end (finance, admin)',
    periodQuery,
  );
  report(
    '/reports/gifts',
    'Gift funnel: purchased, delivered, redeemed, expired, refunded, converted to paid (finance, admin)',
  );
  report('/reports/campaigns', 'Campaigns that have a report (finance, admin)');
  report(
    '/reports/campaigns/{slug}',
    'A campaign per day: contributions by source, taken back, cumulative against the goal (finance, admin)',
    undefined,
    { 404: error('No such campaign') },
    z.object({ slug: z.string() }),
  );
  report(
    '/reports/reconciliation',
    "Our ledger against Stripe's balance transactions for whole local days from..to: matched, missing on our side, missing on Stripe's side, amount differences (expected empty), other Stripe activity such as payouts, and what a failing Stripe call left unchecked (finance, admin)",
    periodQuery,
    {
      502: error('Stripe could not be reached'),
      503: error('Payments are not configured'),
    },
    undefined,
    reconciliationBody,
  );
  report(
    '/reports/reasons',
    "Why money went back and members left, for whole local days from..to: refunds by Stripe's reason, status and currency; disputes by the cardholder's reason and status with Stripe's dispute fees; cancellations by the reason and feedback from the Customer Portal. Only charges our ledger holds. A Stripe list that fails is named under `unchecked` (finance, admin). format=csv gives one line per group.",
    stripePeriodQuery,
    { 503: error('Payments are not configured') },
  );
  report(
    '/reports/fees',
    "Net after every Stripe fee, per local month and settlement currency, from Stripe's balance transactions for whole local days from..to: gross, refunds, disputes, processing fees, Billing/Radar fees (stripe_fee), Stripe Tax fees (tax_fee), conversion fees (stripe_fx_fee), net. The whole Stripe account (finance, admin). format=csv gives the same lines.",
    stripePeriodQuery,
    { 503: error('Payments are not configured') },
  );
  report(
    '/reports/payouts',
    "Stripe payouts expected in the bank on whole local days from..to (arrival_date), each with what it carried from Stripe's balance transactions (charges, refunds, disputes, fees, failed payouts returned, other, net) against what our ledger booked for the same transactions; problems: money no ledger entry books, amount differences, contents that do not add up to the payout. A failed payout shows why and which transaction returned its money (finance, admin). format=csv gives one line per payout with its problems.",
    stripePeriodQuery,
    { 503: error('Payments are not configured') },
    undefined,
    payoutsBody,
  );
  report(
    '/reports/tax',
    "Tax collected in our payments of whole local days from..to, per local month, currency, country, jurisdiction, tax type and rate, from Stripe's invoices (total_taxes) and Checkout Sessions (total_details); refunds take back their share of the tax (finance, admin). format=csv gives the same lines.",
    stripePeriodQuery,
    { 503: error('Payments are not configured') },
    undefined,
    taxBody,
  );
  report(
    '/reports/attribution',
    `Where a campaign's members come from, for local days from..to (at most 93): members who joined through checkout and their first-year money (payments within a year of joining, one-time contributions in full, refunds and disputes taken off) by article, placement, newsletter and referrer host, and the funnel (views, clicks, checkouts started, paid) per placement (finance, admin). format=csv columns: ${ATTRIBUTION_COLUMNS.join(', ')}.`,
    attributionQuery,
    {},
    undefined,
    attributionBody,
  );
  report(
    '/reports/funnel',
    `A campaign's funnel per local day and placement: widget and button views, clicks, checkouts started and paid (finance, admin). format=csv columns: ${FUNNEL_COLUMNS.join(', ')}.`,
    attributionQuery,
    {},
    undefined,
    funnelBody.extend({ timeZone: z.string(), campaign: z.string(), from: z.string(), to: z.string() }),
  );
  report('/reports/audit', 'Who pulled which report, when, with which filters and how many rows (admin)');
}
