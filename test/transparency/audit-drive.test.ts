import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { exportSalts, type SaltsExport } from '../../src/campaigns/drive-log/salts.js';
import { fromRoot } from '../../src/infra/paths.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { spawnScript } from '../support/server-process.js';
import {
  charge,
  checkoutSession,
  firstInvoicePaid,
  type Purchase,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  T0,
  type TestEvent,
} from '../support/stripe-events.js';
import {
  databaseUri,
  manualClock,
  startTestApp,
  TEST_ENV,
  type TestApp,
  testConfig,
} from '../support/test-app.js';
import { checkpoint, memberJoins } from './support.js';

// The auditor's check (bin/audit-drive.mjs): with the salts the newsroom exports privately and a
// restricted Stripe key, every addition leaf of the running service's log is matched to a real,
// unrefunded payment in the (scripted) Stripe account; what is not, is listed.

let fake: FakeStripe;
let app: TestApp;
let dir: string;
const clock = manualClock(new Date(T0 * 1000));
let made = 0;

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection) },
  });
  dir = await mkdtemp(join(tmpdir(), 'audit-drive-'));
});
afterAll(async () => {
  await app.close();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

async function newDrive(): Promise<Campaign> {
  return (
    await campaignModels(app.deps.db).Campaign.create({
      slug: `audited-${++made}-${Date.now().toString(36)}`,
      title: 'Our birthday drive',
      goal: 100,
      startsAt: new Date(clock.now().getTime() - 3_600_000),
      endsAt: new Date(clock.now().getTime() + 5 * 86_400_000),
      timeZone: 'UTC',
      startingOffset: 0,
    })
  ).toObject();
}

/** A reader joins through checkout and pays their first invoice: a charge in Stripe, a counted member. */
function joins(p: Purchase, slug: string): TestEvent[] {
  fake.charge({
    id: `ch_${p.paymentIntent}`,
    paymentIntent: p.paymentIntent,
    amount: p.amount,
    currency: 'eur',
    created: p.at,
    invoice: `in_${p.subscription}`,
  });
  const first = firstInvoicePaid(p);
  return [
    stripeEvent('checkout.session.completed', checkoutSession({ ...p, campaign: slug }), p.at),
    stripeEvent('invoice.paid', first, p.at + 2),
  ];
}

async function deliver(events: TestEvent[]) {
  for (const event of events) expect((await postEvent(app.url, event)).status).toBe(200);
  await settleStripeEvents(app);
}

/** Four members join through Stripe; the first is refunded in full (and so revoked); checkpointed. */
async function auditedDrive() {
  const campaign = await newDrive();
  const at = Math.floor(clock.now().getTime() / 1000);
  const buyers = [0, 1, 2, 3].map((i) => purchase({ amount: 900, currency: 'eur', at: at + i * 60 }));
  for (const p of buyers) await deliver(joins(p, campaign.slug));
  fake.refund({ charge: `ch_${buyers[0]!.paymentIntent}`, amount: 900, created: at + 600 });
  await deliver([stripeEvent('charge.refunded', charge(buyers[0]!, { amountRefunded: 900 }), at + 600)]);
  await checkpoint(app, campaign);
  const salts = (await exportSalts(app.deps.db, campaign.slug, async () => undefined, clock.now()))!;
  return { campaign, buyers, salts };
}

async function saltsFile(salts: SaltsExport): Promise<string> {
  const path = join(dir, `salts-${++made}.json`);
  await writeFile(path, JSON.stringify(salts));
  return path;
}

function audit(campaign: Campaign, salts: string): Promise<{ code: number; out: string }> {
  const stripeApi = `http://${fake.connection.host}:${fake.connection.port}`;
  return promisify(execFile)(process.execPath, [
    fromRoot('bin/audit-drive.mjs'),
    app.url,
    campaign.slug,
    '--stripe-key',
    'rk_test_auditor',
    '--salts',
    salts,
    '--stripe-api',
    stripeApi,
    '--at',
    clock.now().toISOString(),
  ]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
}

describe('the auditor’s check', () => {
  it('when every addition is a paid Stripe charge and the refunded one is revoked, then the audit passes and names each', async () => {
    const { campaign, buyers, salts } = await auditedDrive();
    expect(salts.entries).toHaveLength(4);
    expect(salts.entries.map((e) => e.payment)).toEqual(buyers.map((b) => `ch_${b.paymentIntent}`));
    // As staff export them: `npm run drive:salts`, its own process, a file only its owner reads.
    const path = join(dir, `exported-${++made}.json`);
    const env = { NODE_ENV: 'test', LOG_LEVEL: 'silent', MONGODB_URI: databaseUri(app.deps.db.name) };
    const exported = spawnScript('src/cli/drive-salts.ts', env, [campaign.slug, '--out', path]);
    expect(await exported.exited).toBe(0);
    expect(exported.output()).toContain(`4 additions written to ${path}`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(await readFile(path, 'utf8'));
    expect({ ...file, exportedAt: undefined }).toEqual({ ...salts, exportedAt: undefined });
    const again = spawnScript('src/cli/drive-salts.ts', env, [campaign.slug, '--out', path]);
    expect(await again.exited).toBe(1); // never over an existing file

    const run = await audit(campaign, path);
    expect(run.out).toContain(
      'additions:     4: 3 real and unrefunded, 1 revoked in the log, 0 with findings',
    );
    expect(run.out).toContain('audited: every addition is a real payment');
    expect(run.code).toBe(0);
  });

  it('when a payment is refunded without the log revoking it, a salt is wrong, one is left out, one names no payment, one names a payment Stripe does not have and two name the same, then each is listed and the audit fails', async () => {
    const { campaign, buyers, salts } = await auditedDrive();
    // Refunded in the Stripe Dashboard; the log never heard of it.
    fake.refund({ charge: `ch_${buyers[1]!.paymentIntent}`, amount: 900, created: T0 + 900 });
    // A member counted with no money in Stripe at all (written straight into the ledger).
    await memberJoins(app, clock.now());
    // Two more members, so each tampering below has a leaf of its own.
    const later = [0, 1, 2].map((i) =>
      purchase({ amount: 900, currency: 'eur', at: Math.floor(clock.now().getTime() / 1000) + 1000 + i }),
    );
    for (const p of later) await deliver(joins(p, campaign.slug));
    clock.advance(10 * 60_000);
    await checkpoint(app, campaign);
    const all = (await exportSalts(app.deps.db, campaign.slug, async () => undefined, clock.now()))!;
    const [, refunded, wrongSalt, leftOut, noPayment, unknown, twice] = all.entries;
    expect(refunded!.index).toBe(salts.entries[1]!.index);
    expect(noPayment!.payment).toBeNull();
    wrongSalt!.salt = `${wrongSalt!.salt.slice(0, -1)}${wrongSalt!.salt.endsWith('0') ? '1' : '0'}`;
    unknown!.payment = 'pi_never_in_stripe';
    twice!.payment = leftOut!.payment;
    const handed = { ...all, entries: all.entries.filter((e) => e !== leftOut) };

    const run = await audit(campaign, await saltsFile(handed));
    const findings = run.out.split('\n').filter((line) => /^[A-Z ]+ leaf \d+:/.test(line));
    expect(findings).toEqual([
      `REFUNDED leaf ${refunded!.index}: payment ${refunded!.payment} was refunded in full, and the log never revoked it`,
      `MISMATCH leaf ${wrongSalt!.index}: record ${wrongSalt!.recordId} and its salt do not give the leaf's commitment`,
      `UNEXPLAINED leaf ${leftOut!.index}: the salts file does not open it`,
      `NO PAYMENT leaf ${noPayment!.index}: no Stripe payment is named for ${noPayment!.recordId}`,
      `MISSING leaf ${unknown!.index}: Stripe has no payment pi_never_in_stripe`,
      // The left-out leaf's payment is still checked where the file names it: used once, it passes.
    ]);
    expect(run.out).toContain(
      'additions:     8: 2 real and unrefunded, 1 revoked in the log, 5 with findings',
    );
    expect(run.out).toContain('NOT audited');
    expect(run.code).toBe(1);

    // Handed whole, the two leaves naming one payment show.
    const duplicate = await audit(campaign, await saltsFile(all));
    expect(duplicate.out).toContain(
      `DUPLICATE leaf ${twice!.index}: payment ${leftOut!.payment} already backs leaf ${leftOut!.index}`,
    );
    expect(duplicate.code).toBe(1);
  });
});
