import { createWriteStream } from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import type { Config } from '../config/config.js';
import { csvStream } from '../http/csv.js';
import { systemClock } from '../infra/clock.js';
import { createLogger } from '../infra/logger.js';
import { stripeFromConfig } from '../infra/stripe.js';
import { growthCsv, growthReport } from '../reports/growth.report.js';
import {
  RECONCILIATION_COLUMNS,
  reconcileWithStripe,
  reconciliationCsvLines,
} from '../reports/reconciliation.report.js';
import { growthQuery, reconciliationQuery, revenueQuery } from '../reports/report-queries.js';
import { REVENUE_COLUMNS, revenueCsvLines, revenueReport } from '../reports/revenue.report.js';
import {
  emailStatements,
  STATEMENT_COLUMNS,
  statementCsvLines,
  statementQuery,
  supporterStatements,
} from '../reports/statement.report.js';
import {
  countSupporters,
  SUPPORTER_COLUMNS,
  supporterRows,
  supportersFilterSchema,
} from '../reports/supporters.report.js';
import { zonedDayRange } from '../shared/time.js';
import { reportPullModel } from '../staff/audit.model.js';
import { progressBar, runCli } from './cli-support.js';

// `npm run report -- <name> --out FILE.csv [filters]`: the reports as CSV files for scheduled
// exports, each pull audited like one from the API. Exit codes: 0 written, 2 bad arguments,
// 3 reconciliation found problems (the file lists them), 1 anything else.

const USAGE = `Usage:
  npm run report -- supporters --out FILE.csv [--bom] [--status active] [--plan P] [--interval month|year]
                    [--currency eur] [--source checkout|gift|imported] [--campaign SLUG] [--joinedFrom YYYY-MM-DD] [--joinedTo YYYY-MM-DD]
  npm run report -- revenue --out FILE.csv --from YYYY-MM --to YYYY-MM [--by month|day] [--bom]
  npm run report -- growth --out FILE.csv --from YYYY-MM-DD --to YYYY-MM-DD [--bom]
  npm run report -- reconciliation --out FILE.csv --from YYYY-MM-DD --to YYYY-MM-DD [--bom]
  npm run report -- statement --out FILE.csv --year YYYY [--email] [--bom]
                    (--email also queues one statement email per supporter, once per year)`;

type Values = Record<string, string | boolean | undefined>;
interface Export {
  filters: object;
  columns: readonly string[];
  lines: AsyncIterable<object> | Iterable<object>;
  /** Shown and turned into the exit code after the file is written. */
  problems?: number;
  finish?: () => void;
}
type Exporter = (values: Values, ctx: { db: Connection; config: Config }) => Promise<Export | z.ZodError>;

const parse = <T>(schema: z.ZodType<T>, values: Values) => {
  const parsed = schema.safeParse(values);
  return parsed.success ? { data: parsed.data } : { error: parsed.error };
};

const EXPORTERS: Record<string, Exporter> = {
  async supporters(values, { db, config }) {
    const { out: _o, bom: _b, from: _f, to: _t, by: _by, ...rest } = values;
    const { data: filter, error } = parse(supportersFilterSchema, rest);
    if (error) return error;
    const progress = progressBar('supporters', await countSupporters(db, filter!, config.timeZone));
    const lines = (async function* () {
      for await (const { _cursor, ...row } of supporterRows(db, filter!, { timeZone: config.timeZone })) {
        progress.tick();
        yield row;
      }
    })();
    return { filters: filter!, columns: SUPPORTER_COLUMNS, lines, finish: progress.finish };
  },

  async revenue(values, { db }) {
    const { data, error } = parse(revenueQuery, { by: values.by, from: values.from, to: values.to });
    if (error) return error;
    const { format: _f, bom: _b, ...filters } = data!;
    const report = await revenueReport(db, filters);
    return { filters, columns: REVENUE_COLUMNS, lines: revenueCsvLines(report.rows) };
  },

  async growth(values, { db, config }) {
    const { data, error } = parse(growthQuery, values);
    if (error) return error;
    const { columns, lines } = growthCsv(await growthReport(db, { ...data!, timeZone: config.timeZone }));
    return { filters: data!, columns, lines };
  },

  async statement(values, { db, config }) {
    const { data, error } = parse(statementQuery, { year: values.year });
    if (error) return error;
    const statements = await supporterStatements(db, data!.year);
    if (values.email) {
      const queued = await emailStatements(
        { db, clock: systemClock, charityStatement: config.stripe.checkout.charityStatement },
        data!.year,
        statements,
      );
      process.stderr.write(
        `statement: ${queued} emails queued (${statements.length - queued} already sent or queued before)\n`,
      );
    }
    return {
      filters: { year: data!.year, email: Boolean(values.email) },
      columns: STATEMENT_COLUMNS,
      lines: statementCsvLines(statements),
    };
  },

  async reconciliation(values, { db, config }) {
    const { data, error } = parse(reconciliationQuery, values);
    if (error) return error;
    const stripe = stripeFromConfig(config.stripe);
    if (!stripe)
      throw new Error('STRIPE_SECRET_KEY is not set: there is no Stripe account to reconcile with');
    const report = await reconcileWithStripe(
      { db, stripe, clock: systemClock, logger: createLogger({ level: 'warn' }) },
      zonedDayRange(data!.from, data!.to, config.timeZone),
    );
    const lines = reconciliationCsvLines(report);
    process.stderr.write(`reconciliation: ${report.matched} matched, ${lines.length} problems\n`);
    return { filters: data!, columns: RECONCILIATION_COLUMNS, lines, problems: lines.length };
  },
};

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      bom: { type: 'boolean', default: false },
      status: { type: 'string' },
      plan: { type: 'string' },
      interval: { type: 'string' },
      currency: { type: 'string' },
      source: { type: 'string' },
      campaign: { type: 'string' },
      joinedFrom: { type: 'string' },
      joinedTo: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      by: { type: 'string', default: 'month' },
      year: { type: 'string' },
      email: { type: 'boolean', default: false },
    },
  });
  const [name] = positionals;
  const exporter = name ? EXPORTERS[name] : undefined;
  if (!values.out || !exporter) {
    console.error(USAGE);
    return 2;
  }
  const config = readConfigOrExit();
  const database = await openDatabase(config, createLogger({ level: 'warn' }));
  try {
    const result = await exporter(values, { db: database.db, config });
    if (result instanceof z.ZodError) {
      for (const issue of result.issues) console.error(`--${issue.path.join('.')}: ${issue.message}`);
      console.error(USAGE);
      return 2;
    }
    let rows = 0;
    const counted = (async function* () {
      for await (const line of result.lines) {
        rows++;
        yield line;
      }
    })();
    await pipeline(counted, csvStream(result.columns, { bom: values.bom }), createWriteStream(values.out));
    result.finish?.();
    await reportPullModel(database.db).create({
      staffId: 'cli',
      staffEmail: `${os.userInfo().username}@${os.hostname()}`,
      role: 'cli',
      report: name,
      format: 'csv',
      filters: result.filters,
      rows,
      at: new Date(),
    });
    process.stderr.write(`exported ${rows.toLocaleString('en')} rows to ${values.out}\n`);
    return result.problems ? 3 : 0;
  } finally {
    await database.close();
  }
}

runCli(main);
