import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Connection } from 'mongoose';
import { createHttpServer } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { systemClock } from '../src/infra/clock.js';
import { connectDatabase, describeServer, ensureIndexes } from '../src/infra/db.js';
import { startEmbeddedDatabase } from '../src/infra/embedded-db.js';
import type { JobQueue } from '../src/infra/jobs/queue.js';
import { createLogger } from '../src/infra/logger.js';
import { createMetricsRegistry } from '../src/infra/metrics.js';
import { fromRoot } from '../src/infra/paths.js';
import { createStripeClient, type StripeConnection } from '../src/infra/stripe.js';
import { registerModels } from '../src/models.js';
import { DomainEvents } from '../src/shared/domain-events.js';
import { STRIPE_EVENT_QUEUE } from '../webhooks/stripe-event.model.js';
import { createStripeEventQueue } from '../webhooks/stripe-events.service.js';
import { webhookDepsFrom } from '../webhooks/webhooks.capability.js';

/** A fresh database for one benchmark: MONGODB_URI if set, else the embedded server in a temp folder. */
export async function benchDatabase(
  name: string,
): Promise<{ db: Connection; server: string; uri: string; pid?: number; close(): Promise<void> }> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  const embedded = process.env.MONGODB_URI
    ? undefined
    : await startEmbeddedDatabase({ dataDir: tmp, download: false });
  const uri = new URL(process.env.MONGODB_URI ?? embedded!.uri);
  uri.pathname = `/bench_${name}_${Date.now()}`;
  const db = await connectDatabase({ uri: uri.toString(), poolSize: 20, timeoutMs: 10_000 });
  registerModels(db);
  await ensureIndexes(db);
  lastDatabase = await describeServer(db);
  return {
    db,
    server: lastDatabase,
    uri: uri.toString(),
    pid: embedded?.pid,
    close: async () => {
      await db.dropDatabase();
      await db.close();
      await embedded?.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await run();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

export async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** What each benchmark measured in this process, as it saved it (details beyond the printed rows). */
const saved = new Map<string, object>();
/** The database the latest benchmark ran on, as its server describes itself. */
let lastDatabase: string | null = null;

export function saveResult(name: string, result: object): void {
  saved.set(name, result);
}

type Figure = string | number | boolean | null;

/** One benchmark run as bench/results/<name>.json holds it; scripts/render-benchmarks.mjs reads it. */
export interface BenchResultFile {
  name: string;
  date: string;
  commit: string | null;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; platform: string; node: string };
  database: string | null;
  /** What a reader must know to read the figures (a scaled-down run says so); rendered above them. */
  notes?: string[];
  rows: Record<string, Figure>[];
}

/**
 * Writes bench/results/<name>.json in one stable shape whatever the benchmark returned: the rows it
 * printed (a list as it is; one object as figure/value pairs) and the machine it ran on, because a
 * figure means little without it. The benchmark docs are rendered from these files, never typed.
 */
export function writeResultFile(name: string, printed: object): string {
  const details = (saved.get(name) ?? printed) as { database?: unknown; notes?: unknown };
  const figure = (value: unknown): Figure =>
    value === null || ['string', 'number', 'boolean'].includes(typeof value)
      ? (value as Figure)
      : JSON.stringify(value);
  const rows = Array.isArray(printed)
    ? printed.map((row: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(row).map(([key, value]) => [key, figure(value)])),
      )
    : Object.entries(printed)
        .filter(([key]) => key !== 'database')
        .map(([key, value]) => ({ figure: key, value: figure(value) }));
  const cpus = os.cpus();
  const file: BenchResultFile = {
    name,
    date: new Date().toISOString(),
    commit: commitAtStart,
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      platform: `${os.platform()} ${os.arch()}`,
      node: process.version,
    },
    database: typeof details.database === 'string' ? details.database : lastDatabase,
    ...(Array.isArray(details.notes) ? { notes: details.notes.map(String) } : {}),
    rows,
  };
  const target = fromRoot(`bench/results/${name}.json`);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, `${JSON.stringify(file, null, 2)}\n`);
  return target;
}

/** Taken when the run starts: the code that was measured, whatever is edited while it runs. */
const commitAtStart = currentCommit();

/** The checkout's commit, marked when the measured code differs from it; null outside a git checkout. */
function currentCommit(): string | null {
  try {
    const run = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: fromRoot(),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    const commit = run('rev-parse', '--short=12', 'HEAD');
    // Only the code a benchmark runs: an edited doc or an earlier result does not change a figure.
    const code = ['src', 'webhooks', 'bench', 'templates', 'package.json', 'package-lock.json'];
    code.push(':(exclude)*.md', ':(exclude)bench/results');
    return run('status', '--porcelain', '--untracked-files=no', '--', ...code) ? `${commit}+changes` : commit;
  } catch {
    return null;
  }
}

/** Starts the real app (the whole HTTP stack, logs off) on a random port; returns its base URL. */
export async function startBenchApp(
  db: Connection,
  env: Record<string, string> = {},
  stripeConnection?: StripeConnection,
): Promise<{
  url: string;
  server: http.Server;
  /** Applies the Stripe events the app stored, as the job runner would (the bench app runs none). */
  applyStripeEvents(timeBoxMs?: number): Promise<{ ms: number; left: number }>;
}> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env });
  const deps = {
    config,
    db,
    logger: createLogger({ level: 'silent' }),
    clock: systemClock,
    metrics: createMetricsRegistry(),
    stripe: createStripeClient(config.stripe.secretKey, stripeConnection),
    events: new DomainEvents(),
  };
  const server = createHttpServer(deps);
  const stripeEvents = createStripeEventQueue(webhookDepsFrom(deps));
  return {
    url: await listen(server),
    server,
    applyStripeEvents: (timeBoxMs?: number) =>
      timed(() => drainStripeEvents(db, stripeEvents, timeBoxMs)).then(({ ms, result }) => ({
        ms,
        left: result,
      })),
  };
}

/** Drains the queue, waiting out retries of events that came before their member; returns how many are left. */
async function drainStripeEvents(db: Connection, queue: JobQueue, timeBoxMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeBoxMs;
  for (;;) {
    await queue.drain();
    const left = await db.collection('job_due').countDocuments({ queue: STRIPE_EVENT_QUEUE });
    if (left === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

/**
 * Sends signed webhook deliveries from a separate process (bench/webhook-load.ts), CONCURRENCY at
 * a time, each until answered 200; returns how many were accepted and the time it took.
 */
export async function deliverFromOtherProcess(
  url: string,
  deliveries: { body: string; headers: Record<string, string> }[],
  concurrency: number,
  /** Sent first and not counted: they warm up the sending process (bench/webhook-load.ts). */
  warmUp: { body: string; headers: Record<string, string> }[] = [],
): Promise<{ accepted: number; refused: number; ms: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'webhook-load-'));
  const file = path.join(dir, 'deliveries.json');
  writeFileSync(
    file,
    JSON.stringify({ url, concurrency, warmUp: warmUp.length, deliveries: [...warmUp, ...deliveries] }),
  );
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', fromRoot('bench/webhook-load.ts'), file],
      { cwd: fromRoot(), maxBuffer: 1024 * 1024 },
    );
    return JSON.parse(stdout) as { accepted: number; refused: number; ms: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
