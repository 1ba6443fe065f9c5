import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Connection } from 'mongoose';
import mongoose from 'mongoose';
import { campaignModels } from '../src/campaigns/campaign.model.js';
import { transparencyModels } from '../src/campaigns/drive-log/log.model.js';
import { logContribution } from '../src/campaigns/drive-log/log.service.js';
import { loadConfig } from '../src/config/config.js';
import { enqueueEmail } from '../src/email/outbox.service.js';
import { systemClock } from '../src/infra/clock.js';
import { fromRoot } from '../src/infra/paths.js';
import { signLink } from '../src/infra/signed-links.js';
import { registerModels } from '../src/models.js';
import { workerAgainstCapture } from '../test/support/email.js';
import { startFakeStripe } from '../test/support/fake-stripe.js';
import { startSendgridCapture } from '../test/support/sendgrid-capture.js';
import { staffToken } from '../test/support/staff.js';
import { serialize, signedHeaders, type TestEvent } from '../test/support/stripe-events.js';
import { TEST_ENV } from '../test/support/test-app.js';
import { type MailchimpFileKind, writeMailchimpFile } from './import.bench.js';
import { latencies, outboxSend, progressRefresh, round, webhookIngest } from './scale.bench.js';
import { stripeEventMix } from './stripe-mix.js';
import {
  benchDatabase,
  deliverFromOtherProcess,
  inParallel,
  saveResult,
  startBenchApp,
  timed,
} from './support.js';
import { csvAgainstCursor } from './supporters-csv.bench.js';

// A national newsroom's size (issue 31), seeded through the paths a newsroom's data really comes
// in by: Mailchimp exports of three lists and a Ghost members export through `npm run import` (a
// separate process, its peak memory measured), a backlog of signed Stripe events (with
// duplicates) posted to the webhook and applied by the queue, emails through the outbox to the
// local SendGrid capture, drive-log leaves through the log's append function. Never by writing
// collections. The same measurements at empty, at the seed's size and at national size, in one run.
//   npm run bench -- national           (BENCH_NATIONAL_SCALE=0.01 for a hundredth of every figure)

const SCALE = Number(process.env.BENCH_NATIONAL_SCALE ?? 1);
if (!(SCALE > 0 && SCALE <= 1)) throw new Error('BENCH_NATIONAL_SCALE must be in (0, 1]');

/** The issue's sizes. Consent records follow from the subscribers (two or three per imported row). */
const NATIONAL = {
  subscribers: 1_000_000,
  members: 100_000,
  stripeEvents: 100_000,
  sentEmails: 1_000_000,
  leaves: 100_000,
};
/** The seed newsroom as issue 31 measured it (12,000 Ghost members, 33,000 subscribers). */
const SEED = {
  subscribers: 33_000,
  members: 12_000,
  stripeEvents: 12_000,
  sentEmails: 100_000,
  leaves: 1_000,
};
type Sizes = typeof NATIONAL;
const scaled = (sizes: Sizes): Sizes =>
  Object.fromEntries(Object.entries(sizes).map(([k, v]) => [k, Math.max(1, Math.round(v * SCALE))])) as Sizes;
const STEPS: { name: string; sizes: Sizes }[] = [
  { name: 'empty', sizes: { subscribers: 0, members: 0, stripeEvents: 0, sentEmails: 0, leaves: 0 } },
  { name: 'seed', sizes: scaled(SEED) },
  { name: 'national', sizes: scaled(NATIONAL) },
];
/** The lists a Mailchimp audience is spread over, with their share of the subscribers. */
const LISTS = [
  { slug: 'editors-picks', share: 0.5 },
  { slug: 'explaining-ukraine', share: 0.3 },
  { slug: 'daily', share: 0.2 },
];
const SESSION_SECRET = 'national-bench-session-secret-0123456789abcdef';
const ENV = {
  ...TEST_ENV,
  SESSION_SECRET,
  TIME_ZONE: 'UTC',
  NEWSLETTER_SIGNUPS_PER_IP: '1000000',
  EMAIL_WORKER: 'off',
};
const REQUESTS = 100;
const READER_DATA_REQUESTS = 50;

type Capture = Awaited<ReturnType<typeof startSendgridCapture>>;
type Figure = number | string | null;
/** What one size measured; a string says why a figure is not there. */
type Measured = Record<string, Figure>;

export async function nationalBenchmark() {
  const started = Date.now();
  const database = await benchDatabase('national');
  const { db } = database;
  const stripe = await startFakeStripe();
  const capture = await startSendgridCapture();
  const app = await startBenchApp(db, ENV, stripe.connection);
  const config = loadConfig({ ...ENV, LOG_LEVEL: 'silent' });
  const admin = await staffToken(app.url, db, 'admin');
  const files = mkdtempSync(path.join(os.tmpdir(), 'bench-national-files-'));
  const campaign = await createCampaign(db, app.url, admin.authorization);
  const measured: Measured[] = [];
  const seeded: Record<string, number>[] = [];
  let previous = STEPS[0]!.sizes;
  let measuringMs = 0;
  try {
    for (const step of STEPS) {
      const run = step.name;
      const seeding = { ms: 0, figures: {} as Measured };
      if (step.name !== 'empty') {
        const t = await timed(() =>
          seedStep({
            db,
            uri: database.uri,
            app,
            capture,
            files,
            campaign,
            run,
            from: previous,
            to: step.sizes,
          }),
        );
        seeding.ms = t.ms;
        seeding.figures = t.result;
        previous = step.sizes;
      }
      seeded.push(await countsOf(db));
      const shown = ['newsletter_subscriptions', 'newsletter_consents', 'members', 'stripe_events'];
      shown.push('email_jobs', 'drive_log_leaves');
      const counts = shown.map((name) => `${seeded.at(-1)![name] ?? 0} ${name}`).join(', ');
      console.log(`${run}: seeded in ${Math.round(seeding.ms / 1000)} s: ${counts}`);
      // Signed in again at each size: a staff access token outlives no long run (ACCESS_TOKEN_MINUTES).
      const [admin, finance] = [
        await staffToken(app.url, db, 'admin'),
        await staffToken(app.url, db, 'finance'),
      ];
      const measuring = await timed(() => measureAt({ db, app, capture, config, admin, finance, run }));
      measuringMs += measuring.ms;
      const figures = measuring.result;
      measured.push({
        seedSeconds: Math.round(seeding.ms / 100) / 10,
        membersSeeded: seeded.at(-1)!.members ?? 0,
        ...seeding.figures,
        ...figures,
      });
      console.log(run, measured.at(-1));
    }
  } finally {
    app.server.close();
    await stripe.close();
    await capture.close();
    await database.close();
    rmSync(files, { recursive: true, force: true });
  }
  const rows = table(measured, seeded);
  const minutes = Math.round((Date.now() - started) / 6000) / 10;
  const fullRun = fullRunHours(measured, measuringMs / 1000);
  const notes = [
    SCALE < 1
      ? `Run at scale ${SCALE}: every size was ${SCALE} of the issue's (national: ${describe(STEPS[2]!.sizes)}; ` +
        `seed: ${describe(STEPS[1]!.sizes)}), not a national newsroom's. Targets marked "projected" are ` +
        "extrapolated along the line through this run's seed-size and national-size figures."
      : `Run at full size (scale 1): national is ${describe(STEPS[2]!.sizes)}.`,
    `The whole run took ${minutes} minutes.` +
      (SCALE < 1 && fullRun !== null
        ? ` A run at full size would take about ${fullRun} hours, projected from the rates of this run's seed and national steps.`
        : ''),
  ];
  saveResult('national', {
    database: database.server,
    scale: SCALE,
    minutes,
    fullRunHours: fullRun,
    steps: STEPS,
    notes,
    rows,
  });
  return rows;
}

const describe = (s: Sizes) =>
  `${s.subscribers.toLocaleString('en')} subscribers on 3 lists, ${s.members.toLocaleString('en')} members, ` +
  `${s.stripeEvents.toLocaleString('en')} Stripe events, ${s.sentEmails.toLocaleString('en')} sent emails, ` +
  `${s.leaves.toLocaleString('en')} drive-log leaves`;

async function createCampaign(db: Connection, url: string, authorization: string): Promise<string> {
  const res = await fetch(`${url}/campaigns`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({
      slug: 'birthday',
      title: '1,000 new members for our birthday',
      goal: 5_000,
      startsAt: new Date(Date.now() - 30 * 86_400_000).toISOString(),
      endsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    }),
  });
  if (res.status !== 201)
    throw new Error(`creating the campaign answered ${res.status}: ${await res.text()}`);
  return String((await campaignModels(db).Campaign.findOne({ slug: 'birthday' }).lean())!._id);
}

/** Documents in every collection (the server's own count: no scan). */
async function countsOf(db: Connection): Promise<Record<string, number>> {
  const names = (await db.db!.listCollections().toArray()).map((c) => c.name).sort();
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = await db.db!.collection(name).estimatedDocumentCount();
  return counts;
}

interface SeedContext {
  db: Connection;
  uri: string;
  app: Awaited<ReturnType<typeof startBenchApp>>;
  capture: Capture;
  files: string;
  campaign: string;
  run: string;
  from: Sizes;
  to: Sizes;
}

/** Grows the newsroom from `from` to `to` through the real paths; returns what the imports cost. */
async function seedStep(c: SeedContext): Promise<Measured> {
  const importFiles = writeImportFiles(c);
  const figures: Measured = {};
  const cli = await timed(async () => {
    let peak = 0;
    for (const args of importFiles.mailchimp) peak = Math.max(peak, (await importCli(c.uri, args)).peakRssMb);
    figures.mailchimpRows = c.to.subscribers - c.from.subscribers;
    figures.mailchimpPeakRssMb = peak;
  });
  figures.mailchimpSeconds = Math.round(cli.ms / 100) / 10;
  const ghost = await timed(() => importCli(c.uri, importFiles.ghost));
  figures.ghostMembers = c.to.members - c.from.members;
  figures.ghostSeconds = Math.round(ghost.ms / 100) / 10;
  figures.ghostPeakRssMb = ghost.result.peakRssMb;
  figures.firstProgressAfterImport = await firstProgressRead(c.uri);

  // A second run of the same files: must change nothing (every collection's count the same,
  // but the audit log, which records each run).
  const before = await countsOf(c.db);
  const again = await timed(async () => {
    for (const args of [...importFiles.mailchimp, importFiles.ghost]) await importCli(c.uri, args);
  });
  const after = await countsOf(c.db);
  const changed = Object.keys({ ...before, ...after }).filter(
    (name) => name !== 'report_audit' && before[name] !== after[name],
  );
  figures.secondImportSeconds = Math.round(again.ms / 100) / 10;
  figures.secondImportChanged = changed.length
    ? changed.map((name) => `${name} ${before[name] ?? 0}→${after[name] ?? 0}`).join(', ')
    : 'nothing';

  const backlog = await stripeBacklog(c);
  Object.assign(figures, backlog);
  const emails = await timed(() => sendEmails(c));
  figures.sentEmailsSeeded = c.to.sentEmails - c.from.sentEmails;
  figures.sentEmailsSeconds = Math.round(emails.ms / 100) / 10;
  const leaves = await timed(() => appendLeaves(c));
  figures.leavesAppended = leaves.result;
  figures.leavesSeconds = Math.round(leaves.ms / 100) / 10;
  return figures;
}

function writeImportFiles(c: SeedContext) {
  const mailchimp: string[][] = [];
  let next = c.from.subscribers; // readers are numbered across the lists, each address on one list
  const count = (sizes: Sizes, share: number) => Math.round(sizes.subscribers * share);
  for (const [l, list] of LISTS.entries()) {
    const rows = count(c.to, list.share) - count(c.from, list.share);
    // The first list's export comes as Mailchimp's three files; the others only subscribed.
    const parts: [MailchimpFileKind, number][] =
      l === 0
        ? [
            ['subscribed', rows - Math.round(rows / 15) - Math.round(rows / 30)],
            ['unsubscribed', Math.round(rows / 15)],
            ['cleaned', Math.round(rows / 30)],
          ]
        : [['subscribed', rows]];
    for (const [kind, n] of parts) {
      const file = path.join(c.files, `${c.run}-${list.slug}-${kind}.csv`);
      writeMailchimpFile(file, next, n, kind);
      next += n;
      mailchimp.push(['subscribers', file, '--list', list.slug]);
    }
  }
  // Subscribers counted per list rounding may differ by one from the total: the rows written rule.
  const ghostFile = path.join(c.files, `${c.run}-ghost-members.csv`);
  writeGhostFile(ghostFile, c.from.members, c.to.members - c.from.members);
  return { mailchimp, ghost: ['members', ghostFile] };
}

/** Ghost's members export (Members → Export), every member paying through Stripe. */
function writeGhostFile(target: string, from: number, count: number) {
  const fd = openSync(target, 'w');
  try {
    writeSync(
      fd,
      'id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers',
    );
    for (let start = 0; start < count; start += 10_000) {
      const end = Math.min(count, start + 10_000);
      const lines = Array.from({ length: end - start }, (_, k) => {
        const i = from + start + k;
        const joined = new Date(Date.UTC(2019, 0, 1) + i * 600_000).toISOString();
        return `\n${i.toString(16).padStart(24, '0')},member${i}@example.org,Member ${i},,true,false,cus_ghost${i},${joined},,"print, ${2019 + (i % 7)}",Supporter`;
      });
      writeSync(fd, lines.join(''));
    }
  } finally {
    closeSync(fd);
  }
}

/** `npm run import -- …` in its own process against the bench's database; its peak memory from time(1). */
async function importCli(uri: string, args: string[]): Promise<{ peakRssMb: number }> {
  const report = `${args[1]}.rejected.csv`;
  const { stderr } = await promisify(execFile)(
    '/usr/bin/time',
    ['-v', process.execPath, fromRoot('scripts/run.mjs'), 'src/cli/import.ts', ...args, '--report', report],
    {
      cwd: fromRoot(),
      env: { ...process.env, ...ENV, LOG_LEVEL: 'silent', MONGODB_URI: uri },
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1];
  return { peakRssMb: kb ? Math.round(Number(kb) / 1024) : Number.NaN };
}

/** The first progress read of a freshly started app (a new connection: nothing in memory), after an import. */
async function firstProgressRead(uri: string): Promise<string> {
  const other = await mongoose.createConnection(uri).asPromise();
  registerModels(other);
  const fresh = await startBenchApp(other, ENV);
  try {
    const { ms, result } = await timed(() => fetch(`${fresh.url}/campaigns/birthday/progress`));
    await result.arrayBuffer();
    return `${result.status} in ${Math.round(ms)} ms`;
  } finally {
    fresh.server.close();
    await other.close();
  }
}

/**
 * Stripe's redelivery after an outage: the stripe-apply bench's mix, every fifth event twice,
 * signed and posted to the webhook by another process, then applied by the queue. Fails if an
 * event is lost or applied twice (members and ledger entries counted before and after).
 */
async function stripeBacklog(c: SeedContext): Promise<Measured> {
  const total = c.to.stripeEvents - c.from.stripeEvents;
  const memberships = Math.max(1, Math.round(total / 4));
  const contributions = Math.round(memberships / 2);
  const events = stripeEventMix(memberships, contributions).sort((a, b) => a.created - b.created);
  const deliveries: TestEvent[] = events.flatMap((event, i) => (i % 5 === 4 ? [event, event] : [event]));
  const signed = deliveries.map(serialize).map((body) => ({ body, headers: signedHeaders(body) }));
  const before = await countsOf(c.db);
  const posted = await deliverFromOtherProcess(`${c.app.url}/webhooks/stripe`, signed, 16);
  const apply = await c.app.applyStripeEvents(600_000);
  const after = await countsOf(c.db);
  const grew = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
  const expected = { members: memberships, ledger: memberships + contributions * 2 };
  const lost = apply.left + Math.max(0, expected.members - grew('members'));
  const twice = Math.max(0, grew('ledger') - expected.ledger);
  if (lost || twice || grew('stripe_events') !== events.length)
    throw new Error(
      `stripe backlog: ${apply.left} left, members +${grew('members')} of ${expected.members}, ` +
        `ledger +${grew('ledger')} of ${expected.ledger}, events +${grew('stripe_events')} of ${events.length}`,
    );
  return {
    stripeBacklogEvents: events.length,
    stripeBacklogDeliveries: deliveries.length,
    stripeBacklogAnsweredPerSecond: round((posted.accepted / posted.ms) * 1000),
    stripeBacklogAppliedSeconds: Math.round(apply.ms / 100) / 10,
    stripeBacklogLost: lost,
    stripeBacklogAppliedTwice: twice,
  };
}

/** Sent emails: queued through the outbox and sent by its worker to the SendGrid capture. */
async function sendEmails(c: SeedContext) {
  const CHUNK = 2_000;
  for (let start = c.from.sentEmails; start < c.to.sentEmails; start += CHUNK) {
    const end = Math.min(c.to.sentEmails, start + CHUNK);
    await inParallel(end - start, 16, (k) =>
      enqueueEmail(c.db, systemClock, {
        template: 'member-welcome',
        to: { email: `member${(start + k) % Math.max(1, c.to.members)}@example.org` },
        data: { name: 'Member', planName: 'Monthly', accountUrl: 'https://members.test/a' },
        idempotencyKey: `national:sent:${start + k}`,
      }),
    );
    await workerAgainstCapture(c.db, c.capture, systemClock, { concurrency: 16 }).drain();
    c.capture.reset();
  }
}

/** Drive-log leaves beyond those the backlog's joins appended, through the log's append function. */
async function appendLeaves(c: SeedContext) {
  const have = await transparencyModels(c.db).Leaf.estimatedDocumentCount();
  for (let i = have; i < c.to.leaves; i++)
    await logContribution(c.db, c.campaign, `national:${i}`, new Date(), { fresh: true });
  return Math.max(0, c.to.leaves - have);
}

interface MeasureContext {
  db: Connection;
  app: Awaited<ReturnType<typeof startBenchApp>>;
  capture: Capture;
  config: ReturnType<typeof loadConfig>;
  admin: { authorization: string; accessToken: string };
  finance: { authorization: string; accessToken: string };
  run: string;
}

const form = (body: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(body).toString(),
  redirect: 'manual' as const,
});

/** Every figure at one size. Readers used are the ones who sign up in this step. */
async function measureAt(m: MeasureContext): Promise<Measured> {
  const { url } = m.app;
  const reader = (i: number) => `new-${m.run}-${i}@example.com`;
  const webhook = await webhookIngest(url, m.run);
  const apply = await m.app.applyStripeEvents();
  if (apply.left > 0) throw new Error(`${apply.left} stripe events were still not applied`);
  const progress = await progressRefresh(m.db);
  const signup = await latencies(REQUESTS, (i) =>
    fetch(`${url}/newsletters/subscriptions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: reader(i), lists: ['editors-picks'] }),
    }),
  );
  const signIn = await latencies(50, (i) =>
    fetch(`${url}/account/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.${m.run.length}.${i}` },
      body: JSON.stringify({ email: `member${i * 7}@example.org` }),
    }),
  );
  // The confirmation emails go out; their links are what a reader clicks.
  m.capture.reset();
  await workerAgainstCapture(m.db, m.capture, systemClock, { concurrency: 8 }).drain();
  const tokens = new Map<string, string>();
  for (const request of m.capture.accepted()) {
    const text = JSON.stringify(request.body);
    const to = /"to":\[\{"email":"([^"]+)"/.exec(text)?.[1];
    const token = /newsletters\/confirm\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
    if (to && token) tokens.set(to, token);
  }
  const tokenOf = (i: number) => tokens.get(reader(i)) ?? 'missing-token-missing-token';
  const confirm = await latencies(REQUESTS, (i) =>
    fetch(`${url}/newsletters/confirm`, form({ token: tokenOf(i) })),
  );
  const link = (i: number) =>
    `e=${encodeURIComponent(reader(i))}&sig=${signLink(m.config.session.secret, 'unsubscribe', reader(i))}`;
  const preferences = await latencies(REQUESTS, (i) => fetch(`${url}/newsletters/unsubscribe?${link(i)}`));
  const unsubscribe = await latencies(REQUESTS, (i) =>
    fetch(
      `${url}/newsletters/unsubscribe?${link(i)}&list=editors-picks`,
      form({ 'List-Unsubscribe': 'One-Click' }),
    ),
  );
  // A refused request answers fast: it must fail the run, never be timed as the path.
  const ok = async (answer: Promise<Response>) => {
    const res = await answer;
    if (res.status >= 400) throw new Error(`${res.url} answered ${res.status}`);
    return res;
  };
  const adminLookup = await latencies(READER_DATA_REQUESTS, (i) =>
    ok(
      fetch(`${url}/admin/newsletters/readers/${encodeURIComponent(reader(i))}`, {
        headers: { authorization: m.admin.authorization },
      }),
    ),
  );
  const exp = String(Math.floor(Date.now() / 1000) + 86_400);
  const exportData = await latencies(READER_DATA_REQUESTS, (i) =>
    ok(
      fetch(
        `${url}/newsletters/my-data?e=${encodeURIComponent(reader(i))}&exp=${exp}&sig=${signLink(m.config.session.secret, 'my-data', reader(i), exp)}`,
      ),
    ),
  );
  const erasure = await latencies(READER_DATA_REQUESTS, (i) =>
    ok(
      fetch(`${url}/admin/newsletters/readers/${encodeURIComponent(reader(i))}`, {
        method: 'DELETE',
        headers: { authorization: m.admin.authorization },
      }),
    ),
  );
  const outbox = await outboxSend(m.db, m.capture, m.run);
  const reports = await reportTimes(url, m.finance.authorization);
  const csv = await csvAgainstCursor(m.db, url, m.finance.accessToken, 3);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rowsRead = new Set([...csv.csv, ...csv.cursor].map((r) => r.rows));
  if (rowsRead.size !== 1) throw new Error(`supporters CSV and cursor read ${[...rowsRead]} rows`);
  const csvMs = median(csv.csv.map((r) => r.ms));
  const cursorMs = median(csv.cursor.map((r) => r.ms));
  return {
    webhookAppliedPerSecond: round((webhook.stored / apply.ms) * 1000),
    progressRefreshMs: progress.medianMs,
    signupP50Ms: signup.p50,
    signupP99Ms: signup.p99,
    signupFloorMs: m.config.fixedTime.newsletterSignUpMs,
    confirmedTokens: tokens.size,
    confirmP50Ms: confirm.p50,
    confirmP99Ms: confirm.p99,
    unsubscribeP50Ms: unsubscribe.p50,
    unsubscribeP99Ms: unsubscribe.p99,
    preferencesP50Ms: preferences.p50,
    preferencesP99Ms: preferences.p99,
    signInP50Ms: signIn.p50,
    signInP99Ms: signIn.p99,
    adminLookupP99Ms: adminLookup.p99,
    exportP99Ms: exportData.p99,
    erasureP99Ms: erasure.p99,
    outboxEmailsPerSecond: outbox.perSecond,
    supportersCsvMs: Math.round(csvMs),
    supportersCursorMs: Math.round(cursorMs),
    supportersRows: csv.csv[0]!.rows,
    ...reports,
  };
}

async function reportTimes(url: string, authorization: string): Promise<Measured> {
  const year = new Date().getUTCFullYear();
  const today = new Date().toISOString().slice(0, 10);
  const paths = {
    summaryReportMs: `/reports/summary?from=${year - 1}-01-01&to=${today}`,
    revenueReportMs: `/reports/revenue?from=${year - 2}-01&to=${today.slice(0, 7)}`,
    growthReportMs: `/reports/growth?from=${year - 1}-12-09&to=${today}`,
  };
  const figures: Measured = {};
  for (const [name, p] of Object.entries(paths)) {
    const { ms, result } = await timed(() => fetch(`${url}${p}`, { headers: { authorization } }));
    await result.arrayBuffer();
    figures[name] = result.status === 200 ? Math.round(ms) : `answered ${result.status}`;
  }
  return figures;
}

const num = (x: Figure | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/**
 * The seconds `full` rows would take, along the line through the seed's and the national step's
 * runs (the same number of import processes each, so their start-up cost is the intercept, not a
 * per-row cost); null without both.
 */
function projectedSeconds(
  seed: Measured,
  national: Measured,
  rowsKey: string,
  secondsKey: string,
  full: number,
) {
  const [n0, s0, n1, s1] = [seed[rowsKey], seed[secondsKey], national[rowsKey], national[secondsKey]].map(
    num,
  );
  if (n0 == null || s0 == null || n1 == null || s1 == null || n1 <= n0) return null;
  return Math.max(s1, s0 + ((s1 - s0) * (full - n0)) / (n1 - n0));
}

/** What a run at scale 1 would take: each seeding stage projected, and the measurements as measured. */
function fullRunHours(measured: Measured[], measuringSeconds: number): number | null {
  const [, seed, national] = measured as [Measured, Measured, Measured];
  const stages: [string, string, number][] = [
    ['mailchimpRows', 'mailchimpSeconds', NATIONAL.subscribers],
    ['ghostMembers', 'ghostSeconds', NATIONAL.members],
    ['mailchimpRows', 'secondImportSeconds', NATIONAL.subscribers],
    ['stripeBacklogEvents', 'stripeBacklogAppliedSeconds', NATIONAL.stripeEvents],
    ['sentEmailsSeeded', 'sentEmailsSeconds', NATIONAL.sentEmails],
    ['leavesAppended', 'leavesSeconds', NATIONAL.leaves],
  ];
  let seconds = measuringSeconds;
  for (const [rows, secs, full] of stages) {
    const s = projectedSeconds(seed, national, rows, secs, full);
    if (s === null) return null;
    seconds += s;
  }
  return Math.round((seconds / 3600) * 10) / 10;
}

type Row = Record<string, Figure>;

/** The printed table: one row per figure, a column per size, the target and whether it is met. */
function table(measured: Measured[], seeded: Record<string, number>[]): Row[] {
  const [empty, seed, national] = measured as [Measured, Measured, Measured];
  const rows: Row[] = [];
  const row = (figure: string, key: string | ((m: Measured) => Figure), target: string, verdict: Figure) => {
    const get = typeof key === 'string' ? (m: Measured) => m[key] ?? null : key;
    rows.push({
      figure,
      empty: get(empty),
      seed: get(seed),
      national: get(national),
      target,
      result: verdict,
    });
  };
  const pass = (ok: boolean | null, why = '') =>
    ok === null ? `not measured${why ? `: ${why}` : ''}` : ok ? 'pass' : 'fail';
  const count = (name: string) => seeded.map((s) => s[name] ?? 0);
  const sizeRow = (figure: string, name: string) => {
    const [a, b, c] = count(name);
    rows.push({ figure, empty: a!, seed: b!, national: c!, target: '', result: '' });
  };
  rows.push({
    figure: 'scale',
    empty: SCALE,
    seed: SCALE,
    national: SCALE,
    target: "1 for the issue's sizes",
    result: SCALE < 1 ? `scaled down to ${SCALE}` : 'full size',
  });
  sizeRow('newsletter subscriptions', 'newsletter_subscriptions');
  sizeRow('consent records', 'newsletter_consents');
  sizeRow('members', 'members');
  sizeRow('Stripe events', 'stripe_events');
  sizeRow('ledger entries', 'ledger');
  sizeRow('email jobs (sent)', 'email_jobs');
  sizeRow('drive-log leaves', 'drive_log_leaves');
  row('seeding seconds', 'seedSeconds', '', '');

  // Flat paths: national against empty, higher is better for rates, lower for times.
  const ratio = (figure: string, key: string, higherIsBetter: boolean) => {
    const [a, c] = [num(empty[key]), num(national[key])];
    const r = a === null || c === null || a === 0 || c === 0 ? null : round(higherIsBetter ? c / a : a / c);
    row(figure, key, '', '');
    rows.push({
      figure: `${figure}: national vs empty`,
      empty: 1,
      seed: null,
      national: r,
      target: '≥ 0.8',
      result: pass(r === null ? null : r >= 0.8),
    });
  };
  ratio('sign-up p50 ms', 'signupP50Ms', false);
  row('sign-up p99 ms', 'signupP99Ms', '', '');
  const overFloor = (m: Measured) => {
    const [p99, floor] = [num(m.signupP99Ms), num(m.signupFloorMs)];
    return p99 === null || floor === null ? null : p99 - floor;
  };
  const nationalOver = overFloor(national);
  row(
    'sign-up p99 above its answer floor ms',
    overFloor,
    '≤ 100',
    pass(nationalOver === null ? null : nationalOver <= 100),
  );
  ratio('confirmation p50 ms', 'confirmP50Ms', false);
  ratio('one-click unsubscribe p50 ms', 'unsubscribeP50Ms', false);
  ratio('preferences page p50 ms', 'preferencesP50Ms', false);
  ratio('member sign-in p50 ms', 'signInP50Ms', false);
  ratio('progress refresh ms', 'progressRefreshMs', false);
  ratio('Stripe events applied per second', 'webhookAppliedPerSecond', true);
  ratio('outbox sends per second', 'outboxEmailsPerSecond', true);
  for (const [figure, key] of [
    ['reader data admin lookup p99 ms', 'adminLookupP99Ms'],
    ['reader data export p99 ms', 'exportP99Ms'],
    ['reader data erasure p99 ms', 'erasureP99Ms'],
  ] as const) {
    const v = num(national[key]);
    row(figure, key, '≤ 300', pass(v === null ? null : v <= 300));
  }
  const progress = String(national.firstProgressAfterImport ?? '');
  const [status, ms] = [/^(\d+)/.exec(progress)?.[1], Number(/in (\d+) ms/.exec(progress)?.[1])];
  row(
    'first progress read after import (fresh process)',
    'firstProgressAfterImport',
    '200 within 750 ms',
    pass(status ? status === '200' && ms <= 750 : null, 'no import at this size'),
  );

  // Imports and the backlog: what this step's files (or events) took, and the time projected to the
  // issue's sizes along the line through the seed's and the national step's runs (the same number
  // of import processes each, so their start-up cost is the line's intercept, not a per-row cost).
  const projected = (
    figure: string,
    rowsKey: string,
    secondsKey: string,
    full: number,
    limitMin?: number,
  ) => {
    const seconds = projectedSeconds(seed, national, rowsKey, secondsKey, full);
    rows.push({
      figure,
      empty: null,
      seed: null,
      national: seconds === null ? null : Math.round((seconds / 60) * 10) / 10,
      target: limitMin === undefined ? '' : `≤ ${limitMin}`,
      result:
        limitMin === undefined
          ? ''
          : seconds === null
            ? pass(null, 'no import')
            : `${pass(seconds <= limitMin * 60)} (projected)`,
    });
  };
  row('Mailchimp rows imported', 'mailchimpRows', '', '');
  row('Mailchimp import seconds', 'mailchimpSeconds', '', '');
  projected(
    'Mailchimp: minutes for 1,000,000 rows (projected)',
    'mailchimpRows',
    'mailchimpSeconds',
    NATIONAL.subscribers,
    15,
  );
  row('Mailchimp import peak RSS MB', 'mailchimpPeakRssMb', 'flat (seed ≈ national)', '');
  row('Ghost members imported', 'ghostMembers', '', '');
  row('Ghost import seconds', 'ghostSeconds', '', '');
  projected(
    'Ghost: minutes for 100,000 members (projected)',
    'ghostMembers',
    'ghostSeconds',
    NATIONAL.members,
    3,
  );
  row('Ghost import peak RSS MB', 'ghostPeakRssMb', 'flat (seed ≈ national)', '');
  row('second import run seconds', 'secondImportSeconds', '', '');
  row(
    'second import run changed',
    'secondImportChanged',
    'nothing',
    pass(national.secondImportChanged === undefined ? null : national.secondImportChanged === 'nothing'),
  );

  row('Stripe backlog events (+1 in 5 delivered twice)', 'stripeBacklogEvents', '', '');
  row('Stripe backlog apply seconds', 'stripeBacklogAppliedSeconds', '', '');
  projected(
    'Stripe backlog: minutes for 100,000 events (projected)',
    'stripeBacklogEvents',
    'stripeBacklogAppliedSeconds',
    NATIONAL.stripeEvents,
    10,
  );
  row(
    'Stripe backlog lost / applied twice',
    (m) =>
      m.stripeBacklogLost === undefined ? null : `${m.stripeBacklogLost} / ${m.stripeBacklogAppliedTwice}`,
    '0 / 0',
    pass(
      national.stripeBacklogLost === undefined
        ? null
        : national.stripeBacklogLost === 0 && national.stripeBacklogAppliedTwice === 0,
    ),
  );

  row('sent emails seeded through the outbox', 'sentEmailsSeeded', '', '');
  row('sent emails seeding seconds', 'sentEmailsSeconds', '', '');
  projected(
    'sent emails: minutes for 1,000,000 (projected)',
    'sentEmailsSeeded',
    'sentEmailsSeconds',
    NATIONAL.sentEmails,
  );
  row('drive-log leaves appended', 'leavesAppended', '', '');
  row('drive-log leaves seconds', 'leavesSeconds', '', '');
  row('supporters CSV ms', 'supportersCsvMs', '', '');
  row('supporters raw cursor ms', 'supportersCursorMs', '', '');
  const csvRatio = (m: Measured) => {
    const [a, b] = [num(m.supportersCsvMs), num(m.supportersCursorMs)];
    return a === null || b === null || b === 0 ? null : round(a / b);
  };
  const cr = csvRatio(national);
  row('supporters CSV vs raw cursor', csvRatio, '≤ 1.2', pass(cr === null ? null : cr <= 1.2));
  for (const [figure, key] of [
    ['summary report ms', 'summaryReportMs'],
    ['revenue report ms', 'revenueReportMs'],
    ['growth report ms', 'growthReportMs'],
  ] as const) {
    const v = num(national[key]);
    row(figure, key, '≤ 5000', pass(v === null ? null : v <= 5000, String(national[key] ?? '')));
    // Reports read every member (or their days): projected to 100,000 members along the same line.
    if (SCALE < 1) {
      const ms = projectedSeconds(seed, national, 'membersSeeded', key, NATIONAL.members);
      rows.push({
        figure: `${figure} at 100,000 members (projected)`,
        empty: null,
        seed: null,
        national: ms === null ? null : Math.round(ms),
        target: '≤ 5000',
        result: ms === null ? pass(null, 'not measured at two sizes') : `${pass(ms <= 5000)} (projected)`,
      });
    }
  }
  return rows;
}
