import { pipeline } from 'node:stream/promises';
import { type Request, Router } from 'express';
import type { Connection } from 'mongoose';
import { campaignModels } from '../campaigns/campaign.model.js';
import { csvStream } from '../http/csv.js';
import { parseInput } from '../http/validate.js';
import type { Clock } from '../infra/clock.js';
import {
  ATTRIBUTION_COLUMNS,
  type AttributionLine,
  attributionCsvLines,
  attributionReport,
  FUNNEL_COLUMNS,
  funnelReport,
} from '../reports/attribution.report.js';
import { attributionQuery } from '../reports/report-queries.js';
import { formatMoney } from '../shared/messages.js';
import { calendarKeys } from '../shared/time.js';
import { reportPullModel } from '../staff/audit.model.js';
import { consoleErrors, rolesFor, sendConsolePage } from './console-page.js';
import { consoleRole } from './console-session.js';

// "Where members come from" in the console (admin, finance): the attribution report and funnel of
// /reports/attribution as a page, and both as CSV under /console so the console's cookie works.

export interface SourcesConsoleDeps {
  db: Connection;
  clock: Clock;
  timeZone: string;
}

const money = (revenue: Record<string, number>) =>
  Object.entries(revenue)
    .map(([currency, amount]) => formatMoney(amount, currency.toUpperCase(), 'en'))
    .join(', ') || '–';
const rate = (part: number, whole: number) =>
  whole > 0 ? `${Math.round((part / whole) * 1000) / 10}%` : '–';

export function sourcesConsoleRoutes(deps: SourcesConsoleDeps): Router {
  const router = Router();
  const section = 'sources';
  const staffOnly = consoleRole(...rolesFor(section));

  /** The last 30 local days of the newest campaign unless the form says otherwise. */
  const queryOf = (req: Request, newest?: string) => {
    const today = calendarKeys(deps.clock.now(), deps.timeZone).day;
    const start = new Date(`${today}T00:00:00Z`);
    start.setUTCDate(start.getUTCDate() - 29);
    const { campaign, from, to } = req.query as Record<string, string | undefined>;
    return parseInput(attributionQuery, {
      campaign: campaign || newest,
      from: from || start.toISOString().slice(0, 10),
      to: to || today,
    });
  };
  const audit = (req: Request, report: string, format: string, filters: object, rows: number) =>
    reportPullModel(deps.db).create({
      staffId: req.staff!.id,
      staffEmail: req.staff!.email,
      role: req.staff!.role,
      report,
      format,
      filters,
      rows,
      at: deps.clock.now(),
    });

  router.get('/console/sources', consoleErrors(section), staffOnly, async (req, res) => {
    const campaigns = await campaignModels(deps.db)
      .Campaign.find()
      .sort({ startsAt: -1 })
      .select({ slug: 1, title: 1, _id: 0 })
      .lean();
    const { format: _format, bom: _bom, ...query } = queryOf(req, campaigns[0]?.slug);
    const report = await attributionReport(deps.db, query);
    const table = (title: string, lines: AttributionLine[]) => ({
      title,
      lines: lines.map((line) => ({ ...line, revenueText: money(line.revenue) })),
    });
    const { total } = report.funnel;
    await audit(req, 'attribution', 'page', query, attributionCsvLines(report).length);
    sendConsolePage(res, 'sources', {
      title: 'Where members come from',
      section,
      query,
      csv: new URLSearchParams(query).toString(),
      campaigns: campaigns.map((c) => ({ ...c, selected: c.slug === query.campaign })),
      totals: { members: report.totals.members, revenueText: money(report.totals.revenue) },
      tables: [
        table('By article', report.byArticle),
        table('By placement', report.byPlacement),
        table('By newsletter', report.byNewsletter),
        table('By referrer', report.byReferrer),
      ],
      funnel: {
        total: {
          ...total,
          clickRate: rate(total.click, total.view),
          paidRate: rate(total.paid, total.started),
        },
        byPlacement: report.funnel.byPlacement.map((p) => ({
          ...p,
          clickRate: rate(p.click, p.view),
          paidRate: rate(p.paid, p.started),
        })),
      },
    });
  });

  router.get('/console/sources/attribution.csv', consoleErrors(section), staffOnly, async (req, res) => {
    const { format: _f, bom, ...query } = queryOf(req);
    const lines = attributionCsvLines(await attributionReport(deps.db, query));
    res.type('text/csv; charset=utf-8').attachment('attribution.csv');
    await pipeline(lines, csvStream(ATTRIBUTION_COLUMNS, { bom: bom === 'true' }), res);
    await audit(req, 'attribution', 'csv', query, lines.length);
  });

  router.get('/console/sources/funnel.csv', consoleErrors(section), staffOnly, async (req, res) => {
    const { format: _f, bom, ...query } = queryOf(req);
    const { days } = await funnelReport(deps.db, query);
    res.type('text/csv; charset=utf-8').attachment('funnel.csv');
    await pipeline(days, csvStream(FUNNEL_COLUMNS, { bom: bom === 'true' }), res);
    await audit(req, 'funnel', 'csv', query, days.length);
  });

  return router;
}
