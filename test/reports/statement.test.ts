import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { reportPullModel } from '../../src/staff/audit.model.js';
import { spawnScript } from '../support/server-process.js';
import {
  charge,
  checkoutSession,
  invoice,
  postEvent,
  purchase,
  stripeEvent,
  T0,
} from '../support/stripe-events.js';
import { databaseUri, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// `npm run report -- statement --year 2026`: each supporter's year, from the ledger, as CSV; and,
// on request, one statement email per supporter that a second run does not send again.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ TIME_ZONE: 'UTC' }) });
});
afterAll(() => app.close());

const send = async (type: string, object: Record<string, unknown>, created = T0) => {
  const res = await postEvent(app.url, stripeEvent(type, object, created));
  expect(res.status).toBe(200);
};
const DEC_2025 = Date.parse('2025-12-20T10:00:00Z') / 1000;
const MAR_2026 = Date.parse('2026-03-05T10:00:00Z') / 1000;

const runStatement = (out: string, ...extra: string[]) =>
  spawnScript(
    'src/cli/report.ts',
    {
      MONGODB_URI: databaseUri(app.deps.db.name),
      TIME_ZONE: 'UTC',
      CHARITY_STATEMENT: 'The Newsroom is a registered charity, no. 1234567.',
    },
    ['statement', '--out', out, '--year', '2026', ...extra],
  );

it('when the 2026 statement is run, then each supporter has one line per currency with payments, gross, refunds and net for 2026 only; with --email each gets one email, once', async () => {
  // A member: paid in December 2025 (not this year), March and November 2026, changed their email
  // in between, and also gave once in GBP from the new address.
  const member = purchase({ email: 'member-old@example.com', amount: 500, currency: 'eur' });
  await send('checkout.session.completed', checkoutSession(member), DEC_2025);
  const paidAt = (at: number) => ({ status_transitions: { paid_at: at } });
  await send('invoice.paid', { ...invoice(member, { id: 'in_2025' }), ...paidAt(DEC_2025) }, DEC_2025);
  await send('invoice.paid', { ...invoice(member, { id: 'in_mar' }), ...paidAt(MAR_2026) }, MAR_2026);
  await send(
    'customer.updated',
    { id: member.customer, object: 'customer', email: 'member-new@example.com' },
    MAR_2026 + 10,
  );
  await send('invoice.paid', { ...invoice(member, { id: 'in_nov' }), ...paidAt(T0) }, T0);
  const alsoOnce = purchase({ email: 'member-new@example.com', amount: 2000, currency: 'gbp' });
  await send('checkout.session.completed', checkoutSession(alsoOnce, { kind: 'one_time' }), T0 + 10);

  // A one-time contributor, partly refunded.
  const donor = purchase({ email: 'donor@example.com', amount: 2500, currency: 'eur' });
  await send('checkout.session.completed', checkoutSession(donor, { kind: 'one_time' }), T0 + 20);
  await send('charge.refunded', charge(donor, { amountRefunded: 1000, kind: 'one_time' }), T0 + 30);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'statement-'));
  const first = runStatement(path.join(dir, 'first.csv'), '--email');
  expect(await first.exited).toBe(0);
  expect(readFileSync(path.join(dir, 'first.csv'), 'utf8').trim().split('\n')).toEqual([
    'email,name,currency,payments,gross,refunded,net,firstPaymentOn,lastPaymentOn',
    'donor@example.com,Olena Test,EUR,1,2500,1000,1500,2026-11-18,2026-11-18',
    'member-new@example.com,Olena Test,EUR,2,1000,0,1000,2026-03-05,2026-11-18',
    'member-new@example.com,Olena Test,GBP,1,2000,0,2000,2026-11-18,2026-11-18',
  ]);
  expect(first.output()).toContain('statement: 2 emails queued');

  const jobs = await emailModels(app.deps.db)
    .EmailJob.find({ template: 'supporter-statement' })
    .sort({ 'to.email': 1 })
    .lean();
  expect(jobs.map((j) => ({ to: j.to.email, data: j.data }))).toEqual([
    {
      to: 'donor@example.com',
      data: {
        name: 'Olena Test',
        year: 2026,
        totals: [{ currency: 'EUR', payments: 1, net: 1500 }],
        charityStatement: 'The Newsroom is a registered charity, no. 1234567.',
      },
    },
    {
      to: 'member-new@example.com',
      data: {
        name: 'Olena Test',
        year: 2026,
        totals: [
          { currency: 'EUR', payments: 2, net: 1000 },
          { currency: 'GBP', payments: 1, net: 2000 },
        ],
        charityStatement: 'The Newsroom is a registered charity, no. 1234567.',
      },
    },
  ]);

  // Run again, e.g. after a crash half-way: nobody gets a second email.
  const second = runStatement(path.join(dir, 'second.csv'), '--email');
  expect(await second.exited).toBe(0);
  expect(second.output()).toContain('statement: 0 emails queued');
  expect(await emailModels(app.deps.db).EmailJob.countDocuments({ template: 'supporter-statement' })).toBe(2);
  expect(await reportPullModel(app.deps.db).countDocuments({ report: 'statement' })).toBe(2);
});

it('when the year is missing or not a year, then the CLI exits 2 and says why', async () => {
  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'statement-')), 'x.csv');
  const cli = spawnScript('src/cli/report.ts', { MONGODB_URI: databaseUri(app.deps.db.name) }, [
    'statement',
    '--out',
    out,
    '--year',
    'last',
  ]);
  expect(await cli.exited).toBe(2);
  expect(cli.output()).toContain('--year');
});
