import { Router } from 'express';
import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { z } from 'zod';
import { type Campaign, campaignModels } from '../campaigns/campaign.model.js';
import { AppError } from '../http/errors.js';
import { parseInput } from '../http/validate.js';
import type { Clock } from '../infra/clock.js';
import { priceDiscounts } from '../reports/discount-prices.js';
import { giftsReport } from '../reports/drive.reports.js';
import { driveOverview } from '../reports/drive-overview.js';
import { auditPull, sendRevenueCsv, sendSupportersCsv } from '../reports/report-downloads.js';
import { periodQuery, revenueQuery } from '../reports/report-queries.js';
import { revenueReport } from '../reports/revenue.report.js';
import { summaryReport } from '../reports/summary.report.js';
import { supportersFilterSchema } from '../reports/supporters.report.js';
import { type Locale, translate } from '../shared/messages.js';
import { calendarKeys, zonedDayRange } from '../shared/time.js';
import { consoleFormats } from './console-locale.js';
import { consoleErrors, localeOf, rolesFor, sendConsolePage } from './console-page.js';
import { consoleRole } from './console-session.js';
import { driveView, legendOf } from './drive-view.js';

// The finance reports inside the console: one campaign picked from all of them (a GET form, so it
// works without JavaScript), the members, revenue and gifts of a period, and the CSV downloads,
// all under the console's session and its audit trail.

export interface ConsoleReportsDeps {
  db: Connection;
  clock: Clock;
  stripe: Stripe | null;
  timeZone: string;
}

const section = 'reports';
const GIFT_STEPS = ['purchased', 'delivered', 'redeemed', 'convertedToPaid', 'expired', 'refunded'] as const;
const pageQuery = z.object({
  campaign: z.string().max(60).optional(),
  from: z.string().max(20).optional(),
  to: z.string().max(20).optional(),
});

const stateOf = (c: Campaign, now: Date) =>
  now < c.startsAt ? 'upcoming' : now >= c.endsAt ? 'ended' : 'running';

/** The last 30 days in the newsroom's zone, unless the form asked for a valid period. */
function periodOf(query: { from?: string; to?: string }, now: Date, timeZone: string) {
  const today = calendarKeys(now, timeZone).day;
  const monthAgo = new Date(Date.parse(`${today}T00:00:00Z`) - 29 * 86_400_000).toISOString().slice(0, 10);
  if (!query.from && !query.to) return { from: monthAgo, to: today, valid: true };
  const asked = periodQuery.safeParse({ from: query.from, to: query.to });
  return asked.success ? { ...asked.data, valid: true } : { from: monthAgo, to: today, valid: false };
}

export function consoleReportRoutes(deps: ConsoleReportsDeps): Router {
  const router = Router();
  const finance = consoleRole(...rolesFor(section));

  router.get('/console/reports', consoleErrors(section), finance, async (req, res) => {
    const now = deps.clock.now();
    const locale: Locale = localeOf(res);
    const f = consoleFormats(locale, deps.timeZone);
    const query = parseInput(pageQuery, req.query);
    const period = periodOf(query, now, deps.timeZone);
    // Every campaign, newest first: a staff page may list them (ADR 0001 keeps scans off reader paths).
    const campaigns = await campaignModels(deps.db).Campaign.find().sort({ startsAt: -1 }).lean<Campaign[]>();
    const picked = query.campaign
      ? campaigns.find((c) => c.slug === query.campaign)
      : (campaigns.find((c) => stateOf(c, now) === 'running') ?? campaigns[0]);
    if (query.campaign && !picked) throw new AppError('not_found', 'There is no campaign with this name.');

    const priced = deps.stripe ? await priceDiscounts(deps.db, deps.stripe) : undefined;
    const [drive, summary, revenue, gifts] = await Promise.all([
      picked && driveOverview(deps.db, picked, now),
      summaryReport(deps.db, zonedDayRange(period.from, period.to, deps.timeZone), { priced }),
      revenueReport(deps.db, { by: 'month', from: period.from.slice(0, 7), to: period.to.slice(0, 7) }),
      giftsReport(deps.db),
    ]);
    await auditPull(deps, req, 'console-reports', 'html', { campaign: picked?.slug, ...period }, 1);

    const moneyOf = (byCurrency: Record<string, number>) =>
      Object.entries(byCurrency)
        .map(([currency, minor]) => f.money(minor, currency))
        .join(' + ') || f.number(0);
    const revenueMonths = { from: f.month(period.from.slice(0, 7)), to: f.month(period.to.slice(0, 7)) };
    sendConsolePage(res, 'reports', {
      title: 'console.reports.title',
      section,
      period,
      badPeriod: !period.valid,
      zone: deps.timeZone,
      membersHeading: translate(locale, 'console.reports.membersHeading', {
        from: f.day(period.from),
        to: f.day(period.to),
      }),
      campaigns: campaigns.map((c) => ({
        slug: c.slug,
        selected: c.slug === picked?.slug,
        label: translate(locale, 'console.reports.campaignOption', {
          title: c.title,
          state: translate(locale, `console.state.${stateOf(c, now)}`),
          from: f.date(c.startsAt),
          to: f.date(c.endsAt),
        }),
      })),
      drive: drive && driveView(drive, f, locale),
      legend: legendOf(locale),
      summary: {
        new: f.number(summary.new),
        churned: f.number(summary.churned),
        netGrowth: f.number(summary.netGrowth),
        churnRate: f.percent(summary.churnRate),
        mrr: moneyOf(summary.mrr),
        trialing: summary.trialing.members
          ? {
              members: f.number(summary.trialing.members),
              text: translate(locale, 'console.reports.trialing', {
                mrr: moneyOf(summary.trialing.mrrAfterTrial),
              }),
            }
          : undefined,
      },
      revenue: revenue.rows.map((r) => ({
        month: f.month(r.period),
        currency: r.currency.toUpperCase(),
        gross: f.money(r.gross, r.currency),
        refunds: f.money(r.refunds, r.currency),
        disputes: f.money(r.disputes, r.currency),
        net: f.money(r.net, r.currency),
      })),
      gifts: GIFT_STEPS.map((step) => ({
        step,
        label: translate(locale, `console.reports.gift.${step}`),
        count: f.number(gifts[step]),
      })),
      downloads: {
        campaignSupporters:
          picked && translate(locale, 'console.reports.downloadCampaignSupporters', { title: picked.title }),
        campaignQuery: picked && new URLSearchParams({ campaign: picked.slug }).toString(),
        revenue: translate(locale, 'console.reports.downloadRevenue', revenueMonths),
        revenueQuery: new URLSearchParams({
          from: period.from.slice(0, 7),
          to: period.to.slice(0, 7),
        }).toString(),
      },
    });
  });

  // The downloads take the API's filters; only the console's session, not a bearer token, is asked.
  router.get('/console/reports/supporters.csv', consoleErrors(section), finance, async (req, res) => {
    const filter = parseInput(supportersFilterSchema, req.query);
    await sendSupportersCsv(deps, req, res, filter, false);
  });

  router.get('/console/reports/revenue.csv', consoleErrors(section), finance, async (req, res) => {
    const { format: _format, bom, ...query } = parseInput(revenueQuery, req.query);
    await sendRevenueCsv(deps, req, res, query, bom === 'true');
  });

  return router;
}
