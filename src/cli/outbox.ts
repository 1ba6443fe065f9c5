import { parseArgs } from 'node:util';
import { isValidObjectId } from 'mongoose';
import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import { listFailedEmails, requeueFailedEmails } from '../email/outbox.service.js';
import { systemClock } from '../infra/clock.js';
import { createLogger } from '../infra/logger.js';
import { runCli } from './cli-support.js';

const USAGE = `Usage:
  npm run outbox -- failed [--limit N]        list failed emails, newest first
  npm run outbox -- requeue <jobId> [...]     send these failed emails again
  npm run outbox -- requeue --all             send every failed email again`;

/** Shows enough of an address to recognise it without printing it whole. */
const maskEmail = (email: string) => email.replace(/^(.)[^@]*/, '$1***');

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { limit: { type: 'string', default: '50' }, all: { type: 'boolean', default: false } },
  });
  const [command, ...ids] = positionals;
  if (command !== 'failed' && command !== 'requeue') {
    console.error(USAGE);
    return 2;
  }
  if (command === 'requeue' && !values.all && (ids.length === 0 || !ids.every((id) => isValidObjectId(id)))) {
    console.error(`requeue needs job ids (24 hex characters) or --all\n\n${USAGE}`);
    return 2;
  }

  const config = readConfigOrExit();
  const database = await openDatabase(config, createLogger({ level: 'warn' }));
  try {
    if (command === 'failed') {
      const jobs = await listFailedEmails(database.db, Number(values.limit));
      if (jobs.length === 0) console.log('No failed emails.');
      for (const job of jobs) {
        console.log(
          [
            String(job._id),
            job.updatedAt.toISOString(),
            job.template,
            maskEmail(job.to.email),
            `attempts=${job.attempts}`,
            job.lastError ?? '',
          ].join('\t'),
        );
      }
    } else {
      const count = await requeueFailedEmails(
        database.db,
        systemClock,
        values.all ? { all: true } : { jobIds: ids },
      );
      console.log(`Re-queued ${count} email${count === 1 ? '' : 's'}.`);
    }
    return 0;
  } finally {
    await database.close();
  }
}

runCli(main);
