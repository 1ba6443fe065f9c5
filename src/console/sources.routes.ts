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
import { type MessageKey, translate } from '../shared/messages.js';
import { calendarKeys } from '../shared/time.js';
import { reportPullModel } from '../staff/audit.model.js';
import { type ConsoleFormats, consoleFormats } from './console-locale.js';
import { consoleErrors, localeOf, rolesFor, sendConsolePage } from './console-page.js';
import { consoleRole } from './console-session.js';

// "Where members come from" in the console (admin, finance): the attribution report and funnel of
// /reports/attribution as a page, and both as CSV under /console so the console's cookie works.

export interface SourcesConsoleDeps {
  db: Connection;
  clock: Clock;
  timeZone: string;
}

const moneyIn = (f: ConsoleFormats) => (revenue: Record<string, number>) =>
  Object.entries(revenue)
    .map(([currency, amount]) => f.money(amount, currency))
    .join(', ') || '–';
const rateIn = (f: ConsoleFormats) => (part: number, whole: number) =>
  whole > 0 ? f.percent(part / whole) : '–';
type FunnelCounts = { view: number; click: number; started: number; paid: number };

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
    const report = await attributionReport(deps.db, query, deps.clock.now());
    const locale = localeOf(res);
    const f = consoleFormats(locale, deps.timeZone);
    const money = moneyIn(f);
    const rate = rateIn(f);
    const funnelRow = <T extends FunnelCounts>(p: T) => ({
      ...p,
      view: f.number(p.view),
      click: f.number(p.click),
      started: f.number(p.started),
      paid: f.number(p.paid),
      clickRate: rate(p.click, p.view),
      paidRate: rate(p.paid, p.started),
    });
    const table = (title: MessageKey, lines: AttributionLine[]) => ({
      title: translate(locale, title),
      lines: lines.map((line) => ({
        ...line,
        members: f.number(line.members),
        revenueText: money(line.revenue),
      })),
    });
    const { total } = report.funnel;
    await audit(req, 'attribution', 'page', query, attributionCsvLines(report).length);
    sendConsolePage(res, 'sources', {
      title: 'console.sources.title',
      section,
      query,
      csv: new URLSearchParams(query).toString(),
      campaigns: campaigns.map((c) => ({ ...c, selected: c.slug === query.campaign })),
      totals: {
        members: report.totals.members,
        membersText: f.number(report.totals.members),
        revenueText: money(report.totals.revenue),
      },
      tables: [
        table('console.sources.byArticle', report.byArticle),
        table('console.sources.byPlacement', report.byPlacement),
        table('console.sources.byNewsletter', report.byNewsletter),
        table('console.sources.byReferrer', report.byReferrer),
      ],
      funnel: { total: funnelRow(total), byPlacement: report.funnel.byPlacement.map(funnelRow) },
    });
  });

  router.get('/console/sources/attribution.csv', consoleErrors(section), staffOnly, async (req, res) => {
    const { format: _f, bom, ...query } = queryOf(req);
    const lines = attributionCsvLines(await attributionReport(deps.db, query, deps.clock.now()));
    res.type('text/csv; charset=utf-8').attachment('attribution.csv');
    await pipeline(lines, csvStream(ATTRIBUTION_COLUMNS, { bom: bom === 'true' }), res);
    await audit(req, 'attribution', 'csv', query, lines.length);
  });

  router.get('/console/sources/funnel.csv', consoleErrors(section), staffOnly, async (req, res) => {
    const { format: _f, bom, ...query } = queryOf(req);
    const { days } = await funnelReport(deps.db, query, deps.clock.now());
    res.type('text/csv; charset=utf-8').attachment('funnel.csv');
    await pipeline(days, csvStream(FUNNEL_COLUMNS, { bom: bom === 'true' }), res);
    await audit(req, 'funnel', 'csv', query, days.length);
  });

  return router;
}
