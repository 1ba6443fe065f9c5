import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectDatabase } from '../../src/infra/db.js';
import { registerModels } from '../../src/models.js';
import { reportPullModel } from '../../src/staff/audit.model.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { spawnScript } from '../support/server-process.js';
import { databaseUri } from '../support/test-app.js';
import { fixture } from './import-support.js';
import { plantAccount } from './stripe-account.js';

// `npm run import` as staff run it: its own process, the report file, the summary, the audit log.

let db: Connection;
let env: Record<string, string>;
let fake: FakeStripe;

beforeAll(async () => {
  const uri = databaseUri(`t_${randomBytes(6).toString('hex')}`);
  db = await connectDatabase({ uri, poolSize: 2, timeoutMs: 10_000 });
  registerModels(db);
  fake = await startFakeStripe();
  plantAccount(fake);
  env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    MONGODB_URI: uri,
    STRIPE_SECRET_KEY: 'sk_test_cli',
    STRIPE_API_URL: `http://${fake.connection.host}:${fake.connection.port}`,
  };
});
afterAll(async () => {
  await db.dropDatabase();
  await db.close();
  await fake.close();
});

async function cli(...args: string[]) {
  const run = spawnScript('src/cli/import.ts', env, args);
  const code = await run.exited;
  return { code, output: run.output() };
}

const tmp = (name: string) => path.join(os.tmpdir(), `${randomBytes(4).toString('hex')}-${name}`);

it('when staff import a Ghost export, then the summary is printed, rejected rows are in the report file with why, progress is shown, and the run is audited', async () => {
  const report = tmp('rejected.csv');
  const { code, output } = await cli('members', fixture('ghost-members.csv'), '--report', report);
  expect(code).toBe(0);
  expect(output).toContain('members 9/9 (100%)');
  expect(output).toContain(`members (ghost): 9 rows; added 4, 0 already there, 5 rejected (${report})`);
  const lines = readFileSync(report, 'utf8').trim().split('\n');
  expect(lines[0]).toBe('line,email,reason');
  expect(lines.slice(1)).toEqual([
    '5,free.reader@example.org,"a free member (no Stripe customer, not complimentary): import as newsletter subscribers"',
    '6,not-an-email,"invalid email address ""not-an-email"""',
    '7,oksana.kovalenko@example.org,duplicate of line 2',
    '8,formula@example.org,the name looks like a spreadsheet formula',
    '9,gone@example.org,deleted in Ghost',
  ]);
  const audit = await reportPullModel(db).findOne({ report: 'import:members' }).lean();
  expect(audit).toMatchObject({
    role: 'cli',
    format: 'ghost',
    rows: 9,
    filters: { file: fixture('ghost-members.csv'), dryRun: false, created: 4, existing: 0, rejected: 5 },
  });
  expect(await db.collection('members').countDocuments()).toBe(4);
}, 60_000);

it('when staff dry-run a Mailchimp file, then it says what would be added and writes nothing but the audit entry', async () => {
  const { code, output } = await cli(
    'subscribers',
    fixture('mailchimp-subscribed.csv'),
    '--list',
    'editors-picks',
    '--dry-run',
    '--report',
    tmp('rejected.csv'),
  );
  expect(code).toBe(0);
  expect(output).toContain('subscribers (mailchimp): 6 rows; dry run, nothing written: would add 2');
  expect(await db.collection('newsletter_subscriptions').countDocuments()).toBe(0);
  expect(await db.collection('newsletter_consents').countDocuments()).toBe(0);
  expect(await reportPullModel(db).findOne({ report: 'import:subscribers' }).lean()).toMatchObject({
    filters: { list: 'editors-picks', dryRun: true, created: 2 },
  });
}, 60_000);

it('when staff adopt the Stripe account, then customers, subscriptions and money since the chosen day are brought in', async () => {
  const { code, output } = await cli('stripe', '--since', '2026-10-01', '--report', tmp('rejected.csv'));
  expect(code).toBe(0);
  expect(output).toContain('stripe (stripe): 13 rows; added 12');
  expect(output).toContain('14 subscriptions, 11 invoices, 1 charges, 1 refunds');
  expect(await db.collection('ledger').countDocuments({ source: 'imported' })).toBe(13);
}, 60_000);

it('when the arguments are wrong or the file is not one we know, then it says so and exits 2', async () => {
  expect((await cli('subscribers', fixture('mailchimp-subscribed.csv'))).code).toBe(2);
  const unknown = await cli('members', fixture('mailchimp-cleaned.csv'), '--report', tmp('r.csv'));
  expect(unknown.code).toBe(2);
  expect(unknown.output).toContain('not a members file');
}, 60_000);
