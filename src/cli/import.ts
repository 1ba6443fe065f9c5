import { parseArgs } from 'node:util';
import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import { CsvSyntaxError } from '../imports/csv-reader.js';
import {
  type ImportSummary,
  importMembersFile,
  rowsIn,
  UnknownFormatError,
} from '../imports/import.service.js';
import { recordImport, writeRejections } from '../imports/import-audit.js';
import { adoptStripeAccount } from '../imports/stripe-adopt.js';
import { importSubscribersFile } from '../imports/subscribers.import.js';
import { systemClock } from '../infra/clock.js';
import { createLogger } from '../infra/logger.js';
import { stripeFromConfig } from '../infra/stripe.js';
import { loadPlans } from '../memberships/plans.js';
import { loadLists } from '../newsletters/lists.js';
import { progressBar, runCli } from './cli-support.js';

// `npm run import -- <what> …`: brings the newsroom's existing supporters in (README, "Importing
// supporters"). Never emails anyone. Exit codes: 0 done, 2 bad arguments or an unknown file, 1 an error.

const USAGE = `Usage:
  npm run import -- members FILE.csv [--dry-run] [--report REJECTED.csv]
      a Ghost members export or the plain format (email,name,plan,amount,currency,interval,joined_at,stripe_customer_id,status,labels)
  npm run import -- subscribers FILE.csv --list SLUG [--dry-run] [--report REJECTED.csv]
      a Mailchimp audience export (subscribed, unsubscribed or cleaned file) or a listmonk export
  npm run import -- stripe [--since YYYY-MM-DD] [--dry-run] [--report REJECTED.csv]
      adopt the Stripe account: customers and subscriptions without our metadata; with --since, paid invoices and charges too`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', default: false },
      report: { type: 'string' },
      list: { type: 'string' },
      since: { type: 'string' },
    },
  });
  const [what, file] = positionals;
  const needsFile = what === 'members' || what === 'subscribers';
  const badSince = values.since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(values.since);
  if (!what || !['members', 'subscribers', 'stripe'].includes(what) || (needsFile && !file) || badSince) {
    console.error(USAGE);
    return 2;
  }
  if (what === 'subscribers' && !values.list) {
    console.error(`--list is required for subscribers\n${USAGE}`);
    return 2;
  }
  const config = readConfigOrExit();
  const database = await openDatabase(config, createLogger({ level: 'warn' }));
  const deps = {
    db: database.db,
    clock: systemClock,
    plans: loadPlans(config.membershipPlansFile),
    lists: loadLists(config.newsletters.listsFile),
  };
  const dryRun = values['dry-run'];
  try {
    let summary: ImportSummary;
    if (what === 'stripe') {
      const stripe = stripeFromConfig(config.stripe);
      if (!stripe) throw new Error('STRIPE_SECRET_KEY is not set: there is no Stripe account to adopt');
      let shown = 0;
      summary = await adoptStripeAccount(
        { ...deps, stripe, timeZone: config.timeZone },
        {
          dryRun,
          since: values.since ? new Date(`${values.since}T00:00:00Z`) : undefined,
          onStage: (stage) => process.stderr.write(`stripe: reading ${stage}…\n`),
          onRows: (rows) => {
            if (rows - shown >= 500 || shown === 0)
              process.stderr.write(`stripe: ${rows.toLocaleString('en')} customers\n`);
            shown = rows;
          },
        },
      );
    } else {
      const bar = progressBar(what, await rowsIn(file!));
      let done = 0;
      const onRows = (rows: number) => {
        for (; done < rows; done++) bar.tick();
      };
      summary =
        what === 'members'
          ? await importMembersFile(deps, file!, { dryRun, onRows })
          : await importSubscribersFile(deps, file!, values.list!, { dryRun, onRows });
      bar.finish();
    }
    const reportFile = values.report ?? `${file ?? 'stripe-import'}.rejected.csv`;
    await writeRejections(summary, reportFile);
    await recordImport(database.db, summary, {
      file: file ?? 'stripe',
      list: values.list,
      since: values.since,
      at: new Date(),
    });
    console.log(describe(summary, reportFile));
    return 0;
  } catch (error) {
    if (error instanceof UnknownFormatError || error instanceof CsvSyntaxError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  } finally {
    await database.close();
  }
}

function describe(summary: ImportSummary, reportFile: string): string {
  const n = (x: number) => x.toLocaleString('en');
  const would = summary.dryRun ? 'dry run, nothing written: would add' : 'added';
  const extra = Object.entries(summary.details ?? {})
    .map(([k, v]) => `${n(v)} ${k}`)
    .join(', ');
  return (
    `${summary.kind} (${summary.format}): ${n(summary.rows)} rows; ${would} ${n(summary.created)}, ` +
    `${n(summary.existing)} already there, ${n(summary.rejected.length)} rejected (${reportFile})` +
    (extra ? `; ${extra}` : '')
  );
}

runCli(main);
