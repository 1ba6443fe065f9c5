import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Connection } from 'mongoose';
import { csvStream } from '../http/csv.js';
import type { Clock } from '../infra/clock.js';
import { reportPullModel } from '../staff/audit.model.js';
import { REVENUE_COLUMNS, revenueCsvLines, revenueReport } from './revenue.report.js';
import { SUPPORTER_COLUMNS, type SupportersFilter, supporterRows } from './supporters.report.js';

// The CSV downloads, shared by the reports API (bearer token) and the console (its session):
// whoever asks, `req.staff` is who signed in, and every pull is audited the same way.

export interface ReportDownloadDeps {
  db: Connection;
  clock: Clock;
  timeZone: string;
}

export async function auditPull(
  deps: ReportDownloadDeps,
  req: Request,
  report: string,
  format: string,
  filters: object,
  rows: number,
) {
  await reportPullModel(deps.db).create({
    staffId: req.staff!.id,
    staffEmail: req.staff!.email,
    role: req.staff!.role,
    report,
    format,
    filters,
    rows,
    at: deps.clock.now(),
  });
}

/** Every supporter the filter matches, streamed row by row: memory stays flat however many. */
export async function sendSupportersCsv(
  deps: ReportDownloadDeps,
  req: Request,
  res: Response,
  filter: SupportersFilter,
  bom: boolean,
) {
  res.type('text/csv; charset=utf-8').attachment('supporters.csv');
  const csv = csvStream(SUPPORTER_COLUMNS, { bom });
  let rows = 0;
  const source = (async function* () {
    for await (const { _cursor, ...row } of supporterRows(deps.db, filter, { timeZone: deps.timeZone })) {
      rows++;
      yield row;
    }
  })();
  await pipeline(source, csv, res);
  await auditPull(deps, req, 'supporters', 'csv', filter, rows);
}

export async function sendRevenueCsv(
  deps: ReportDownloadDeps,
  req: Request,
  res: Response,
  query: { by: 'day' | 'month'; from: string; to: string },
  bom: boolean,
) {
  const report = await revenueReport(deps.db, query);
  const lines = revenueCsvLines(report.rows);
  res.type('text/csv; charset=utf-8').attachment('revenue.csv');
  await pipeline(lines, csvStream(REVENUE_COLUMNS, { bom }), res);
  await auditPull(deps, req, 'revenue', 'csv', query, lines.length);
}
