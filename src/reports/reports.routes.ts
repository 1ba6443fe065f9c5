import { pipeline } from 'node:stream/promises';
import { type Request, Router } from 'express';
import type { Connection } from 'mongoose';
import Stripe from 'stripe';
import { z } from 'zod';
import { campaignModels } from '../campaigns/campaign.model.js';
import { csvStream } from '../http/csv.js';
import { AppError } from '../http/errors.js';
import { parseInput } from '../http/validate.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import { zonedDayRange } from '../shared/time.js';
import { reportPullModel } from '../staff/audit.model.js';
import { requireRole } from '../staff/require-role.js';
import type { StaffAuthConfig } from '../staff/staff-auth.service.js';
import {
  ATTRIBUTION_COLUMNS,
  attributionCsvLines,
  attributionReport,
  FUNNEL_COLUMNS,
  funnelReport,
} from './attribution.report.js';
import { priceDiscounts } from './discount-prices.js';
import { campaignReport, giftsReport } from './drive.reports.js';
import { NET_COLUMNS, netAfterFees } from './fees.report.js';
import { growthReport } from './growth.report.js';
import { PAYOUT_COLUMNS, payoutCsvLines, payoutsReport } from './payouts.report.js';
import { REASONS_COLUMNS, reasonsCsvLines, reasonsReport } from './reasons.report.js';
import { reconcileWithStripe } from './reconciliation.report.js';
import { auditPull, sendRevenueCsv, sendSupportersCsv } from './report-downloads.js';
import {
  attributionQuery,
  growthQuery,
  periodQuery,
  reconciliationQuery,
  revenueQuery,
  stripePeriodQuery,
  supportersQuery,
} from './report-queries.js';
import { revenueReport } from './revenue.report.js';
import { summaryReport } from './summary.report.js';
import { supporterRows } from './supporters.report.js';
import { TAX_COLUMNS, taxReport } from './tax.report.js';

export interface ReportRoutesDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  stripe: Stripe | null;
  staffAuth: StaffAuthConfig;
  timeZone: string;
}

export function reportRoutes(deps: ReportRoutesDeps): Router {
  const router = Router();
  const finance = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'finance', 'admin');
  const admin = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'admin');

  const audit = (req: Request, report: string, format: string, filters: object, rows: number) =>
    auditPull(deps, req, report, format, filters, rows);

  router.get('/reports/supporters', finance, async (req, res) => {
    const { format, bom, after, limit, ...filter } = parseInput(supportersQuery, req.query);
    if (format === 'csv') return sendSupportersCsv(deps, req, res, filter, bom === 'true');
    // One row more than asked tells whether there is a next page.
    const items = [];
    let last: string | undefined;
    let hasMore = false;
    for await (const { _cursor, ...row } of supporterRows(deps.db, filter, {
      after,
      limit: limit + 1,
      timeZone: deps.timeZone,
    })) {
      if (items.length === limit) {
        hasMore = true;
        break;
      }
      items.push(row);
      last = _cursor;
    }
    await audit(req, 'supporters', 'json', filter, items.length);
    res.json({ items, nextCursor: hasMore ? last : null });
  });

  router.get('/reports/revenue', finance, async (req, res) => {
    const { format, bom, ...query } = parseInput(revenueQuery, req.query);
    if (format === 'csv') return sendRevenueCsv(deps, req, res, query, bom === 'true');
    const report = await revenueReport(deps.db, query);
    await audit(req, 'revenue', 'json', query, report.rows.length);
    res.json({ timeZone: deps.timeZone, by: query.by, ...report });
  });

  router.get('/reports/summary', finance, async (req, res) => {
    const { from, to } = parseInput(periodQuery, req.query);
    const priced = deps.stripe ? await priceDiscounts(deps.db, deps.stripe) : undefined;
    const report = await summaryReport(deps.db, zonedDayRange(from, to, deps.timeZone), { priced });
    await audit(req, 'summary', 'json', { from, to }, report.activeByPlan.length);
    res.json({ timeZone: deps.timeZone, ...report });
  });

  router.get('/reports/growth', finance, async (req, res) => {
    const { from, to } = parseInput(growthQuery, req.query);
    const priced = deps.stripe ? await priceDiscounts(deps.db, deps.stripe) : undefined;
    const days = await growthReport(deps.db, { from, to, timeZone: deps.timeZone, priced });
    await audit(req, 'growth', 'json', { from, to }, days.length);
    res.json({ timeZone: deps.timeZone, days });
  });

  router.get('/reports/gifts', finance, async (req, res) => {
    const report = await giftsReport(deps.db);
    await audit(req, 'gifts', 'json', {}, 1);
    res.json(report);
  });

  router.get('/reports/campaigns', finance, async (_req, res) => {
    const campaigns = await campaignModels(deps.db)
      .Campaign.find()
      .sort({ startsAt: -1 })
      .select({ slug: 1, title: 1, _id: 0 })
      .lean();
    res.json({ campaigns });
  });

  router.get('/reports/campaigns/:slug', finance, async (req, res) => {
    const report = await campaignReport(deps.db, String(req.params.slug));
    if (!report) throw new AppError('not_found', 'There is no campaign with this name.');
    await audit(req, 'campaign', 'json', { slug: report.slug }, report.days.length);
    res.json(report);
  });

  // Where members come from (src/attribution keeps the figures per day): JSON, or CSV of the
  // dimensions; /reports/funnel is the funnel's days as CSV.
  router.get('/reports/attribution', finance, async (req, res) => {
    const { format, bom, ...query } = parseInput(attributionQuery, req.query);
    const report = await attributionReport(deps.db, query, deps.clock.now());
    if (format === 'csv') {
      const lines = attributionCsvLines(report);
      res.type('text/csv; charset=utf-8').attachment('attribution.csv');
      await pipeline(lines, csvStream(ATTRIBUTION_COLUMNS, { bom: bom === 'true' }), res);
      await audit(req, 'attribution', 'csv', query, lines.length);
      return;
    }
    await audit(req, 'attribution', 'json', query, attributionCsvLines(report).length);
    res.json({ timeZone: deps.timeZone, ...report });
  });

  router.get('/reports/funnel', finance, async (req, res) => {
    const { format, bom, ...query } = parseInput(attributionQuery, req.query);
    const funnel = await funnelReport(deps.db, query, deps.clock.now());
    if (format === 'csv') {
      res.type('text/csv; charset=utf-8').attachment('funnel.csv');
      await pipeline(funnel.days, csvStream(FUNNEL_COLUMNS, { bom: bom === 'true' }), res);
      await audit(req, 'funnel', 'csv', query, funnel.days.length);
      return;
    }
    await audit(req, 'funnel', 'json', query, funnel.days.length);
    res.json({ timeZone: deps.timeZone, ...query, ...funnel });
  });

  router.get('/reports/reconciliation', finance, async (req, res) => {
    const { from, to } = parseInput(reconciliationQuery, req.query);
    const { stripe } = deps;
    if (!stripe) throw new AppError('payments_not_configured');
    const report = await reconcileWithStripe(
      { ...deps, stripe },
      zonedDayRange(from, to, deps.timeZone),
    ).catch((error) => {
      if (error instanceof Stripe.errors.StripeError) {
        req.log.warn({ err: { type: error.type, message: error.message } }, 'reconciliation: Stripe failed');
        throw new AppError('stripe_unavailable');
      }
      throw error;
    });
    // A part Stripe would not answer for is not clean either: it was not checked.
    const problems =
      report.missingOurs.length +
      report.missingStripe.length +
      report.amountDifferences.length +
      report.unchecked.length;
    await audit(req, 'reconciliation', 'json', { from, to }, problems);
    res.json({ timeZone: deps.timeZone, from, to, clean: problems === 0, ...report });
  });

  /** A report that asks Stripe: 503 without Stripe; CSV or JSON. */
  function stripeReport<R>(
    path: string,
    name: string,
    run: (stripe: Stripe, period: { from: Date; to: Date }) => Promise<R>,
    csv: { columns: readonly string[]; lines: (report: R) => object[] },
  ) {
    router.get(path, finance, async (req, res) => {
      const { format, bom, from, to } = parseInput(stripePeriodQuery, req.query);
      const { stripe } = deps;
      if (!stripe) throw new AppError('payments_not_configured');
      const report = await run(stripe, zonedDayRange(from, to, deps.timeZone));
      if (format === 'csv') {
        const lines = csv.lines(report);
        res.type('text/csv; charset=utf-8').attachment(`${name}.csv`);
        await pipeline(lines, csvStream([...csv.columns], { bom: bom === 'true' }), res);
        await audit(req, name, 'csv', { from, to }, lines.length);
        return;
      }
      await audit(req, name, 'json', { from, to }, csv.lines(report).length);
      res.json({ timeZone: deps.timeZone, from, to, ...report });
    });
  }

  stripeReport(
    '/reports/reasons',
    'reasons',
    (stripe, period) => reasonsReport({ ...deps, stripe }, period),
    {
      columns: REASONS_COLUMNS,
      lines: reasonsCsvLines,
    },
  );

  stripeReport('/reports/fees', 'fees', (stripe, period) => netAfterFees(stripe, period, deps.timeZone), {
    columns: NET_COLUMNS,
    lines: (report) => report.lines,
  });

  stripeReport(
    '/reports/payouts',
    'payouts',
    async (stripe, period) => {
      const report = await payoutsReport({ ...deps, stripe }, period);
      return { clean: report.unchecked.length === 0 && report.payouts.every((p) => p.clean), ...report };
    },
    { columns: PAYOUT_COLUMNS, lines: payoutCsvLines },
  );

  stripeReport('/reports/tax', 'tax', (stripe, period) => taxReport({ ...deps, stripe }, period), {
    columns: TAX_COLUMNS,
    lines: (report) => report.lines,
  });

  router.get('/reports/audit', admin, async (req, res) => {
    const { limit } = parseInput(
      z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      req.query,
    );
    const pulls = await reportPullModel(deps.db)
      .find()
      .sort({ at: -1, _id: -1 })
      .limit(limit)
      .select({ _id: 0 })
      .lean();
    res.json({ pulls });
  });

  return router;
}
