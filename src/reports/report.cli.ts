import { createWriteStream } from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import { progressBar, runCli } from '../infra/cli.js';
import { createLogger } from '../infra/logger.js';
import { reportPullModel } from './audit.model.js';
import { csvStream } from './csv.js';
import { REVENUE_COLUMNS, revenueCsvLines, revenueReport } from './revenue.report.js';
import {
  countSupporters,
  SUPPORTER_COLUMNS,
  supporterRows,
  supportersFilterSchema,
} from './supporters.report.js';

const USAGE = `Usage:
  npm run report -- supporters --out FILE.csv [--bom] [--status active] [--plan P] [--interval month|year]
                    [--currency eur] [--source checkout|gift] [--campaign SLUG] [--joinedFrom YYYY-MM-DD] [--joinedTo YYYY-MM-DD]
  npm run report -- revenue --out FILE.csv --from YYYY-MM --to YYYY-MM [--by month|day]`;

const period = z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/, 'YYYY-MM or YYYY-MM-DD');
const revenueArgs = z.object({ by: z.enum(['day', 'month']), from: period, to: period });

function usageError(error: z.ZodError): number {
  for (const issue of error.issues) console.error(`--${issue.path.join('.')}: ${issue.message}`);
  console.error(USAGE);
  return 2;
}

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
    },
  });
  const [name] = positionals;
  if (!values.out || (name !== 'supporters' && name !== 'revenue')) {
    console.error(USAGE);
    return 2;
  }
  const config = readConfigOrExit();
  const database = await openDatabase(config, createLogger({ level: 'warn' }));
  try {
    let rows = 0;
    let filters: Record<string, unknown>;
    if (name === 'supporters') {
      const { out: _o, bom, from: _f, to: _t, by: _b, ...rest } = values;
      const parsed = supportersFilterSchema.safeParse(rest);
      if (!parsed.success) return usageError(parsed.error);
      const filter = parsed.data;
      filters = filter;
      const progress = progressBar('supporters', await countSupporters(database.db, filter, config.timeZone));
      const source = (async function* () {
        for await (const { _cursor, ...row } of supporterRows(database.db, filter, {
          timeZone: config.timeZone,
        })) {
          rows++;
          progress.tick();
          yield row;
        }
      })();
      await pipeline(source, csvStream(SUPPORTER_COLUMNS, { bom }), createWriteStream(values.out));
      progress.finish();
    } else {
      const parsed = revenueArgs.safeParse(values);
      if (!parsed.success) return usageError(parsed.error);
      filters = parsed.data;
      const report = await revenueReport(database.db, parsed.data);
      const lines = revenueCsvLines(report.rows);
      rows = lines.length;
      await pipeline(lines, csvStream(REVENUE_COLUMNS, { bom: values.bom }), createWriteStream(values.out));
    }
    await reportPullModel(database.db).create({
      staffId: 'cli',
      staffEmail: `${os.userInfo().username}@${os.hostname()}`,
      role: 'cli',
      report: name,
      format: 'csv',
      filters,
      rows,
      at: new Date(),
    });
    process.stderr.write(`exported ${rows.toLocaleString('en')} rows to ${values.out}\n`);
    return 0;
  } finally {
    await database.close();
  }
}

runCli(main);
