import fc from 'fast-check';
import { type Connection, Schema } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertJob } from '../../src/infra/due.js';
import { createJobQueue, type JobQueue, type QueuedJob } from '../../src/infra/jobs/queue.js';
import { createLogger } from '../../src/infra/logger.js';
import { deep } from '../support/depth.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

// The job runner's guarantee, for any interleaving of three workers taking a job, crashing
// (forgetting it, their lease left behind), storing an outcome, and time passing:
// - two workers never hold one job inside the same lease time;
// - an outcome is stored only by the worker that took the job last (a late, dead worker's
//   outcome is dropped), so each attempt has at most one outcome;
// - whatever happened, once leases run out a new worker can take the job (never stranded).
// Each worker is the real job queue (src/infra/jobs/lease.ts: its claim, its settle), on the real
// database; only its handler is the test's, which holds the job until the test says "settle".

const LEASE_MS = 1_000;
const logger = createLogger({ level: 'silent' });
let db: Connection;

interface TestJob extends QueuedJob {
  _id: string;
  leaseOwner?: string;
  leaseExpiresAt?: Date;
  lastError?: string;
  /** Who stored the last outcome: `w<worker>:<seq>`. */
  outcome?: string;
}
const jobSchema = new Schema<TestJob>(
  {
    _id: String,
    status: { type: String, required: true },
    attempts: { type: Number, default: 0 },
    claimSeq: { type: Number, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    leaseOwner: String,
    leaseExpiresAt: Date,
    lastError: String,
    outcome: String,
  },
  { versionKey: false },
);

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

type Step = { op: 'take' | 'settle' | 'crash'; worker: number } | { op: 'wait'; ms: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constantFrom('take' as const, 'settle' as const, 'crash' as const), worker: fc.nat(2) }),
  fc.record({ op: fc.constant('wait' as const), ms: fc.constantFrom(100, 600, 1_100) }),
);

/** One worker process: a queue whose handler waits, holding the job, until told what to store. */
interface Worker {
  queue: JobQueue;
  /** The job its handler holds now, and how to let the handler return. */
  held?: { job: TestJob; finish(outcome: Record<string, unknown>): void; done: Promise<boolean> };
  /** Called when the handler receives a job. */
  onTake?(job: TestJob): void;
}

let run = 0;
it('when workers take, crash, settle and wait in any order, then a job has one holder at a time, only the latest taker stores an outcome, and it is never stranded', async () => {
  const Job = db.model<TestJob>('LeaseTestJob', jobSchema, 'lease_test_jobs');
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), async (steps) => {
      const name = `lease-test-${++run}`; // a queue per run: an earlier run's job is never due here
      const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
      const start = clock.now().getTime();
      const jobId = (
        await insertJob(db, name, Job, `job${run}`, {
          status: 'pending',
          attempts: 0,
          claimSeq: 0,
          nextAttemptAt: clock.now(),
        } as never)
      ).jobId;

      const newWorker = (): Worker => {
        const worker: Worker = {
          queue: createJobQueue<TestJob>({
            name,
            db,
            model: Job,
            clock,
            logger,
            activeStatus: 'working',
            leaseMs: LEASE_MS,
            handle: (job) =>
              new Promise((finish) => {
                worker.onTake?.(job);
                worker.held = { ...worker.held!, job, finish };
              }),
          }),
        };
        return worker;
      };
      const workers = [newWorker(), newWorker(), newWorker()];
      const holding = new Map<number, { seq: number; until: number }>();
      let lastTaker: number | undefined;
      const outcomes: number[] = [];

      /** Runs the worker's queue once; resolves when its handler holds the job, or nothing was taken. */
      const take = async (w: number): Promise<TestJob | null> => {
        const worker = workers[w]!;
        const taken = new Promise<TestJob>((resolve) => {
          worker.onTake = resolve;
        });
        const done = worker.queue.runOnce();
        worker.held = { done } as Worker['held'];
        const first = await Promise.race([taken, done.then(() => null)]);
        if (!first) worker.held = undefined;
        return first;
      };

      for (const s of steps) {
        if (s.op === 'wait') {
          clock.advance(s.ms);
          continue;
        }
        const w = s.worker;
        const now = clock.now().getTime() - start;
        if (s.op === 'crash' && holding.has(w)) {
          // The process dies holding the job: its handler never returns; a new process takes its place.
          holding.delete(w);
          workers[w] = newWorker();
        }
        if (s.op === 'take' && !holding.has(w)) {
          const job = await take(w);
          if (job) {
            for (const [other, h] of holding)
              if (other !== w) expect({ overlapping: h.until > now }).toEqual({ overlapping: false });
            holding.set(w, { seq: job.claimSeq, until: now + LEASE_MS });
            lastTaker = w;
          }
        }
        if (s.op === 'settle' && holding.has(w)) {
          const { seq } = holding.get(w)!;
          holding.delete(w);
          const held = workers[w]!.held!;
          const outcome = `w${w}:${seq}`;
          // Done with this attempt, and due again at once, so later steps can take it again.
          held.finish({ status: 'pending', nextAttemptAt: clock.now(), outcome });
          await held.done;
          workers[w]!.held = undefined;
          if ((await Job.findById(jobId).lean())?.outcome === outcome) {
            expect(lastTaker).toBe(w);
            outcomes.push(seq);
          }
        }
      }
      expect(new Set(outcomes).size).toBe(outcomes.length);
      // Never stranded: after every lease has run out, a fresh worker takes it.
      clock.advance(2 * LEASE_MS + 1);
      workers.push(newWorker());
      const fresh = await take(workers.length - 1);
      expect(fresh).not.toBeNull();
      workers.at(-1)!.held!.finish({ status: 'done' });
      await workers.at(-1)!.held!.done;
    }),
    {
      numRuns: deep(60),
      examples: [
        [
          [
            { op: 'take', worker: 0 },
            { op: 'wait', ms: 1_100 },
            { op: 'take', worker: 1 },
            { op: 'settle', worker: 0 },
          ],
        ],
      ],
    },
  );
}, 120_000);
