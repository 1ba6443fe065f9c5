import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Connection } from 'mongoose';
import { createHttpServer } from '../src/app.js';
import { webhookDepsFrom } from '../src/capabilities.js';
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

/** A fresh database for one benchmark: MONGODB_URI if set, else the embedded server in a temp folder. */
export async function benchDatabase(
  name: string,
): Promise<{ db: Connection; server: string; close(): Promise<void> }> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  const embedded = process.env.MONGODB_URI
    ? undefined
    : await startEmbeddedDatabase({ dataDir: tmp, download: false });
  const uri = new URL(process.env.MONGODB_URI ?? embedded!.uri);
  uri.pathname = `/bench_${name}_${Date.now()}`;
  const db = await connectDatabase({ uri: uri.toString(), poolSize: 20, timeoutMs: 10_000 });
  registerModels(db);
  await ensureIndexes(db);
  return {
    db,
    server: await describeServer(db),
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

export function saveResult(name: string, result: object): void {
  mkdirSync(fromRoot('bench/results'), { recursive: true });
  writeFileSync(fromRoot(`bench/results/${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
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
  applyStripeEvents(): Promise<{ ms: number; left: number }>;
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
  const stripeEvents = createStripeEventQueue(webhookDepsFrom(config, deps));
  return {
    url: await listen(server),
    server,
    applyStripeEvents: () =>
      timed(() => drainStripeEvents(db, stripeEvents)).then(({ ms, result }) => ({ ms, left: result })),
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
