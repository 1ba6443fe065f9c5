import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Connection } from 'mongoose';
import { wireCapabilities } from '../src/capabilities.js';
import { loadConfig } from '../src/config/config.js';
import { emailModels } from '../src/email/email.model.js';
import { systemClock } from '../src/infra/clock.js';
import type { JobQueue } from '../src/infra/jobs/queue.js';
import { createLogger } from '../src/infra/logger.js';
import { createMetricsRegistry } from '../src/infra/metrics.js';
import { createStripeClient } from '../src/infra/stripe.js';
import { ledgerModel } from '../src/ledger/ledger.model.js';
import { membershipModels } from '../src/memberships/membership.model.js';
import { DomainEvents } from '../src/shared/domain-events.js';
import { startFakeStripe } from '../test/support/fake-stripe.js';
import { serialize, type TestEvent } from '../test/support/stripe-events.js';
import { TEST_ENV } from '../test/support/test-app.js';
import { stripeEventModel } from '../webhooks/stripe-event.model.js';
import { createStripeEventQueue, storeStripeEvent } from '../webhooks/stripe-events.service.js';
import { webhookDepsFrom } from '../webhooks/webhooks.capability.js';
import { stripeEventMix } from './stripe-mix.js';
import { benchDatabase, saveResult } from './support.js';

// Where applying a stored Stripe event spends its time, and whether applying several at once
// (the queue's lanes) drains a backlog faster. A backlog of events is stored (as after an outage,
// in Stripe's order), then applied by the `stripe-events` queue with one lane and with each count
// of BENCH_APPLY_LANES lanes (2 and 4), taking turns in rounds on fresh databases. Besides events per second it
// prints what one event costs: database commands, this process's CPU and the database server's
// CPU (embedded FerretDB only). Fails if any event is lost or applied twice.

const MEMBERSHIPS = Number(process.env.BENCH_APPLY_MEMBERSHIPS ?? 100);
const CONTRIBUTIONS = Math.round(MEMBERSHIPS / 2);
const LANES = (process.env.BENCH_APPLY_LANES ?? '2,4').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_APPLY_ROUNDS ?? 2);

const backlog = (): TestEvent[] =>
  stripeEventMix(MEMBERSHIPS, CONTRIBUTIONS).sort((a, b) => a.created - b.created);

/** Database commands sent by this process, counted at mongoose's collection class. */
function countCommands(db: Connection): { count(): number; stop(): void } {
  const proto = Object.getPrototypeOf(membershipModels(db).Member.collection) as Record<string, unknown>;
  const names = ['find', 'findOne', 'insertOne', 'insertMany', 'updateOne', 'updateMany', 'deleteOne'];
  names.push('deleteMany', 'countDocuments', 'aggregate', 'findOneAndUpdate', 'bulkWrite');
  let n = 0;
  const originals = names.map((name) => [name, proto[name]] as const);
  for (const [name, original] of originals)
    proto[name] = function (this: unknown, ...args: unknown[]) {
      n++;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  return {
    count: () => n,
    stop: () => {
      for (const [name, original] of originals) proto[name] = original;
    },
  };
}

/** CPU milliseconds a process has used (Linux /proc), or null when it is not ours to read. */
function cpuMsOf(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in 1/100 s
  } catch {
    return null;
  }
}

/** Drains the queue, waiting out retries of events that raced ahead of the one they need. */
async function drainAll(db: Connection, queue: JobQueue): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    await queue.drain();
    const left = await db.collection('job_due').countDocuments({ queue: 'stripe-events' });
    if (left === 0) return;
    if (Date.now() > deadline) throw new Error(`${left} events still unapplied after 300 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function applyBacklog(lanes: number) {
  const database = await benchDatabase('stripe-apply');
  const stripe = await startFakeStripe();
  try {
    const config = loadConfig({ ...TEST_ENV, NODE_ENV: 'test', LOG_LEVEL: 'silent', TIME_ZONE: 'UTC' });
    const deps = {
      config,
      db: database.db,
      logger: createLogger({ level: 'silent' }),
      clock: systemClock,
      metrics: createMetricsRegistry(),
      stripe: createStripeClient(config.stripe.secretKey, stripe.connection),
      events: new DomainEvents(),
    };
    wireCapabilities(deps);
    const webhookDeps = webhookDepsFrom(deps);
    const events = backlog();
    for (const event of events) await storeStripeEvent(webhookDeps, JSON.parse(serialize(event)));
    const queue = createStripeEventQueue({ ...webhookDeps, concurrency: lanes });

    const commands = countCommands(database.db);
    const [cpu0, db0, t0] = [process.cpuUsage(), cpuMsOf(database.pid), performance.now()];
    try {
      await drainAll(database.db, queue);
    } finally {
      commands.stop();
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const db1 = cpuMsOf(database.pid);
    const perEvent = (x: number) => Math.round((x / events.length) * 100) / 100;

    const stored = await stripeEventModel(database.db).find().select({ status: 1, attempts: 1 }).lean();
    const counts = {
      applied: stored.filter((e) => e.status === 'applied').length,
      members: await membershipModels(database.db).Member.countDocuments(),
      ledgerEntries: await ledgerModel(database.db).countDocuments(),
      welcomeEmails: await emailModels(database.db).EmailJob.countDocuments({ template: 'member-welcome' }),
    };
    const expected = {
      applied: events.length,
      members: MEMBERSHIPS,
      ledgerEntries: MEMBERSHIPS + CONTRIBUTIONS * 2,
      welcomeEmails: MEMBERSHIPS,
    };
    if (JSON.stringify(counts) !== JSON.stringify(expected))
      throw new Error(`applying lost or duplicated work: ${JSON.stringify({ lanes, counts, expected })}`);
    return {
      events: events.length,
      perSecond: (events.length / ms) * 1000,
      wallMsPerEvent: perEvent(ms),
      commandsPerEvent: perEvent(commands.count()),
      attemptsPerEvent: perEvent(stored.reduce((sum, e) => sum + e.attempts, 0)),
      appCpuMsPerEvent: perEvent((cpu.user + cpu.system) / 1000),
      dbCpuMsPerEvent: db0 === null || db1 === null ? null : perEvent(db1 - db0),
    };
  } finally {
    await stripe.close();
    await database.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number) => Math.round(x * 10) / 10;

type Run = Awaited<ReturnType<typeof applyBacklog>>;
const figure = (runs: Run[], key: Exclude<keyof Run, 'dbCpuMsPerEvent'>) =>
  round1(median(runs.map((run) => run[key])));
const dbCpu = (runs: Run[]) =>
  runs[0]!.dbCpuMsPerEvent === null ? null : round1(median(runs.map((run) => run.dbCpuMsPerEvent!)));

export async function stripeApplyBenchmark() {
  const load = () => os.loadavg()[0]!.toFixed(1);
  const loadBefore = load();
  const runs = new Map<number, Run[]>([1, ...LANES].map((lanes) => [lanes, []]));
  // Turns: load from elsewhere on a shared machine lands on every side alike.
  for (let r = 0; r < ROUNDS; r++) for (const [lanes, done] of runs) done.push(await applyBacklog(lanes));
  const serial = runs.get(1)!;
  const s = { perSecond: figure(serial, 'perSecond'), wall: figure(serial, 'wallMsPerEvent') };
  const serialCpu = figure(serial, 'appCpuMsPerEvent') + (dbCpu(serial) ?? 0);
  const parallel = Object.fromEntries(
    LANES.flatMap((lanes) => {
      const done = runs.get(lanes)!;
      return [
        [`lanes${lanes}AppliedPerSecond`, figure(done, 'perSecond')],
        [`lanes${lanes}RatioToSerial`, Math.round((figure(done, 'perSecond') / s.perSecond) * 100) / 100],
        [`lanes${lanes}AttemptsPerEvent`, figure(done, 'attemptsPerEvent')],
        [`lanes${lanes}AppCpuMsPerEvent`, figure(done, 'appCpuMsPerEvent')],
        [`lanes${lanes}DbCpuMsPerEvent`, dbCpu(done)],
      ];
    }),
  );
  const result = {
    events: serial[0]!.events,
    rounds: ROUNDS,
    cpus: os.cpus().length,
    loadAverageBefore: loadBefore,
    loadAverageAfter: load(),
    serialAppliedPerSecond: s.perSecond,
    serialWallMsPerEvent: s.wall,
    commandsPerEvent: figure(serial, 'commandsPerEvent'),
    appCpuMsPerEvent: figure(serial, 'appCpuMsPerEvent'),
    dbCpuMsPerEvent: dbCpu(serial),
    // One lane waits for each answer before the next command, so the two never overlap: the rest
    // of its wall time is what lanes could hide (scheduling, waiting on the disk, the network).
    serialCpuShareOfWall: Math.round((serialCpu / s.wall) * 100) / 100,
    serialAttemptsPerEvent: figure(serial, 'attemptsPerEvent'),
    ...parallel,
    lost: 0,
    appliedTwice: 0,
  };
  saveResult('stripe-apply', result);
  return result;
}
