import { readFileSync } from 'node:fs';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { freePort } from '../../src/infra/embedded-db.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { type ServerProcess, spawnScript } from '../support/server-process.js';
import { createTestDatabase, databaseUri, releaseTestDatabase } from '../support/test-app.js';

// Real worker processes (`npm run worker`) sending through SENDGRID_API_URL to the local capture
// server, while one of them dies holding a job, or SendGrid fails for a while.

let db: Connection;
let capture: SendgridCapture;
const processes: ServerProcess[] = [];
const clock = { now: () => new Date() };

beforeAll(async () => {
  db = await createTestDatabase();
  capture = await startSendgridCapture();
});
afterAll(async () => {
  for (const p of processes)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await capture.close();
  await releaseTestDatabase(db);
});
beforeEach(async () => {
  capture.reset();
  await emailModels(db).EmailJob.deleteMany({});
});

function worker(env: Record<string, string> = {}): ServerProcess {
  const p = spawnScript('src/worker.ts', {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    MONGODB_URI: databaseUri(db.name),
    SENDGRID_API_KEY: 'SG.outage-test',
    SENDGRID_API_URL: capture.baseUrl,
    // The shortest lease the configuration allows: the survivor takes over a dead worker's jobs sooner.
    JOB_LEASE_SECONDS: '2',
    ...env,
  });
  processes.push(p);
  return p;
}

async function enqueue(prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { jobId } = await enqueueEmail(db, clock, {
      template: 'member-welcome',
      to: { email: `${prefix}-${i}@example.com` },
      data: { planName: 'Monthly', accountUrl: 'https://members.test/account' },
      idempotencyKey: `${prefix}:${i}`,
    });
    ids.push(jobId);
  }
  return ids;
}

const acceptedJobIds = () => capture.accepted().map((r) => String(r.body.custom_args.job_id));

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

const sentInDatabase = () => emailModels(db).EmailJob.countDocuments({ status: 'sent' });

/** Until every job is stored as sent: no worker takes a sent job, so nothing more is sent after it. */
async function untilStoredSent(n: number, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while ((await sentInDatabase()) < n) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${n} stored as sent`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU time (user + system) a process has used, in seconds, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14, 15) in ticks
}

describe('email outbox under failure', () => {
  it('when a worker is killed between taking a job and sending it, then the survivor sends every email exactly once within 2 minutes, and then idles', async () => {
    const ids = await enqueue('crash', 20);
    const dying = worker({ JOB_FAULT: 'crash-after-claim' });
    await dying.exited;
    const metricsPort = await freePort();
    const survivor = worker({ METRICS_PORT: String(metricsPort) });
    expect(dying.child.signalCode).toBe('SIGKILL');
    // It died holding jobs (one per lane that got that far): leased, marked as being sent, not sent.
    expect(await emailModels(db).EmailJob.countDocuments({ status: 'sending' })).toBeGreaterThanOrEqual(1);
    expect(capture.requests).toHaveLength(0);

    const tookMs = await until(
      () => new Set(acceptedJobIds()).size === ids.length,
      120_000,
      'every email sent',
    );
    expect(tookMs).toBeLessThan(120_000);
    await untilStoredSent(ids.length, 30_000);
    expect(await sentInDatabase()).toBe(ids.length);

    // Idle: nothing due, so the survivor polls once a second and sleeps; it must not spin.
    const before = cpuSeconds(survivor.child.pid!);
    await new Promise((r) => setTimeout(r, 3_000));
    const used = cpuSeconds(survivor.child.pid!) - before;
    expect(used).toBeLessThan(0.5);

    // The worker has no web app, yet its metrics are served: nothing due, nothing waiting.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain('jobs_due{queue="email"} 0');
    expect(metrics).toContain('jobs_oldest_due_age_seconds{queue="email"} 0');
    expect(metrics).toContain(`email_outbox_jobs{status="sent"} ${ids.length}`);
    console.log(
      `crash: all sent ${tookMs} ms after the survivor started; idle CPU ${used.toFixed(2)} s in 3 s`,
    );

    // Stopped, it has finished every send it started: a duplicate would be in the capture by now.
    survivor.child.kill('SIGTERM');
    expect(await survivor.exited).toBe(0);
    expect(acceptedJobIds().sort()).toEqual([...ids].sort()); // each once: no duplicates
  }, 180_000);

  it('when a deploy stops a worker while SendGrid takes 1.5 s to answer a send, then the worker waits for the answer, stores it, and the email is sent once', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    capture.respondNext({ holdUntil: held, after: { status: 202 } });
    const [id] = await enqueue('deploy', 1);
    // A lease as deployed; a short graceful stop (5 s), so a send gets 3 s (sendTimeoutMs): the
    // same rule that gives a deployed send 20 s of the default 25 s, at a fifth of the wait.
    const stopping = worker({ JOB_LEASE_SECONDS: '60', SHUTDOWN_TIMEOUT_MS: '5000' });
    await until(() => capture.requests.length === 1, 30_000, 'the send reached SendGrid');
    const signalled = Date.now();
    stopping.child.kill('SIGTERM');
    setTimeout(() => release(), 1_500);
    expect(await stopping.exited).toBe(0);
    expect(Date.now() - signalled).toBeGreaterThan(1_400); // it waited for SendGrid's answer
    // Stored as sent: no later worker sends it again.
    expect(await emailModels(db).EmailJob.findById(id).lean()).toMatchObject({ status: 'sent' });
    expect(capture.requests).toHaveLength(1);
  }, 60_000);

  it('when SendGrid answers 500, then 429 with Retry-After, while two workers run, then after it recovers every email is sent exactly once and no one sends during Retry-After', async () => {
    const ids = await enqueue('outage', 30);
    capture.respondAlways({ status: 500 });
    const env = { JOB_RETRY_BASE_SECONDS: '0.2', EMAIL_MAX_ATTEMPTS: '20', JOB_LEASE_SECONDS: '10' };
    const a = worker(env);
    const b = worker(env);
    await Promise.all([a.waitForLog('email worker started'), b.waitForLog('email worker started')]);
    await until(() => capture.requests.length >= 10, 30_000, 'workers trying');
    // 500s until every job has been refused at least once (retries start 0.2 s apart): few attempts
    // each, so small backoffs to wait out once SendGrid recovers. Then 429s until a send meets one.
    await until(
      () => new Set(capture.requests.map((r) => String(r.body?.custom_args?.job_id))).size === ids.length,
      30_000,
      'every job refused once',
    );
    capture.respondAlways({ status: 429, headers: { 'retry-after': '3' } });
    await until(() => capture.requests.some((r) => r.status === 429), 30_000, 'a send met a 429');
    await new Promise((r) => setTimeout(r, 500));
    capture.respondAlways({ status: 202 });

    await until(
      () => new Set(acceptedJobIds()).size === ids.length,
      150_000,
      'every email sent after recovery',
    );
    await untilStoredSent(ids.length, 30_000);
    expect(await sentInDatabase()).toBe(ids.length);

    // Retry-After: 3 — after a 429, neither worker starts a send until 3 s have passed (a send
    // already under way when the 429 came back may still arrive within the first second).
    const sends = capture.requests.filter((r) => r.path === '/v3/mail/send');
    const limited = sends.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) {
      const early = sends.filter((s) => s.at >= r.at + 1_000 && s.at < r.at + 3_000);
      expect({ at: r.at, early: early.map((s) => s.at - r.at) }).toEqual({ at: r.at, early: [] });
    }

    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
    // Stopped, they have finished every send they started: a duplicate would be in the capture now.
    expect(acceptedJobIds().sort()).toEqual([...ids].sort());
  }, 240_000);
});
