import { randomUUID } from 'node:crypto';
import mongoose, { type Connection, type Model, type Types } from 'mongoose';
import type { Registry } from 'prom-client';
import type { Clock } from './clock.js';
import { insertUnlessPresent } from './db.js';
import { type DueMarker, dueKey, dueModel, markDue, onMarkedDue } from './due.js';
import {
  acquireLease,
  insertLease,
  type Lease,
  leaseKey,
  leaseModel,
  pauseQueue,
  queuePausedUntil,
  releaseLease,
} from './leases.js';
import type { Logger } from './logger.js';
import { gauge } from './metrics.js';

// The one job runner for background work. Two kinds of work:
// - queues (email outbox, SendGrid Marketing sync): documents with a status and a due time,
//   stored with a due marker (due.ts) so finding work never reads finished jobs, each attempt
//   taken under a lease (leases.ts), retried with jittered backoff;
// - periodic tasks (gift delivery, sweeps, settlement): run once per period across all
//   processes, decided by inserting the period's key.
// Every loop either makes progress or sleeps, and stop() returns after the job in hand.

/** The fields every queued job has; each queue's model adds its own. */
export interface QueuedJob {
  _id: Types.ObjectId | string;
  status: string;
  attempts: number;
  /** The lease chain position to try next (leases.ts); only lease holders write it. */
  claimSeq: number;
  nextAttemptAt: Date;
}

/**
 * Mongoose refusing a value (cast, validation, strict mode): it would refuse it again. Not any
 * mongoose error: a command that timed out waiting for the connection is one too, and is a blip.
 */
const isRefusal = (error: unknown) =>
  error instanceof mongoose.Error.CastError ||
  error instanceof mongoose.Error.ValidationError ||
  error instanceof mongoose.Error.StrictModeError;

/** Why an attempt did not succeed: retryable ones are tried again, not before `retryAfterMs`. */
export class JobFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    /** The provider asked everyone to wait (429 Retry-After): pause the whole queue, not just this job. */
    readonly pauseQueue = false,
  ) {
    super(message);
    this.name = 'JobFailure';
  }
}

export interface JobQueueOptions<J extends QueuedJob> {
  name: string;
  db: Connection;
  model: Model<J>;
  clock: Clock;
  logger: Logger;
  /** The status of a job waiting for its turn (default `pending`). */
  queuedStatus?: string;
  /** The status a job has while a worker holds it, e.g. `sending`. */
  activeStatus: string;
  failedStatus?: string;
  /** Does the work; returns the fields that record the outcome (with its final status). */
  handle(job: J): Promise<Record<string, unknown>>;
  onRetry?(job: J, failure: JobFailure, delayMs: number): void;
  onFailed?(job: J, failure: JobFailure): void;
  leaseMs?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  concurrency?: number;
  batchSize?: number;
  random?: () => number;
  /** Fault injection for tests and rehearsals: die right after taking a job (config JOB_FAULT). */
  crashAfterClaim?: boolean;
}

export interface JobQueue {
  readonly name: string;
  /** Takes and processes one due job; false when none could be taken. */
  runOnce(): Promise<boolean>;
  /**
   * Processes due jobs batch by batch while batches make progress; returns how many it processed.
   * Ends when nothing is due, every due job is held by another worker, the queue is paused, or
   * `shouldStop()` says so (checked before every job).
   */
  drain(shouldStop?: () => boolean): Promise<number>;
  /** When this process may next find work: the end of a pause, or undefined. */
  pausedUntil(): Promise<Date | null>;
  /** Due jobs and the oldest one's due time, for metrics (a scan: at scrape time only). */
  backlog(): Promise<{ due: number; oldestDueAt?: Date }>;
}

export function createJobQueue<J extends QueuedJob>(options: JobQueueOptions<J>): JobQueue {
  const {
    name,
    db,
    model,
    clock,
    queuedStatus = 'pending',
    activeStatus,
    failedStatus = 'failed',
    leaseMs = 60_000,
    maxAttempts = 8,
    retryBaseMs = 30_000,
    retryMaxMs = 6 * 60 * 60 * 1000,
    concurrency = 4,
    random = Math.random,
  } = options;
  const batchSize = options.batchSize ?? concurrency * 16;
  const holder = randomUUID().slice(0, 8);
  const logger = options.logger.child({ component: 'jobs', queue: name, holder });
  const dueStatuses = [queuedStatus, activeStatus];
  const isDue = (job: J, now: Date) => dueStatuses.includes(job.status) && job.nextAttemptAt <= now;

  const markers = dueModel(db);
  const isFinished = (status: string) => !dueStatuses.includes(status);

  /**
   * Only due jobs: pending ones whose time came, and held ones whose lease ran out. Reads the
   * markers (src/infra/due.ts), then each job by primary key; tidies markers it finds stale.
   */
  async function findDue(now: Date, limit: number): Promise<Pick<J, '_id' | 'claimSeq'>[]> {
    const due = await markers
      .find({ queue: name, nextAttemptAt: { $lte: now } })
      .sort({ nextAttemptAt: 1 })
      .limit(limit)
      .lean<DueMarker[]>();
    const found: Pick<J, '_id' | 'claimSeq'>[] = [];
    for (const marker of due) {
      try {
        let job = marker.job ? await storeJobFrom(marker) : await readJob(marker.jobId);
        if (job?.status === failedStatus && marker.job) job = await startOver(job, now);
        if (job && isDue(job, now)) found.push(job);
        // No job a lease after its marker: the enqueue died between the two writes.
        else if (
          (!job && marker.createdAt.getTime() < now.getTime() - leaseMs) ||
          (job && isFinished(job.status))
        )
          // A marker read bare is removed only if still bare: an enqueue may have given it a job since.
          await markers.deleteOne(
            marker.job ? { _id: marker._id } : { _id: marker._id, job: { $exists: false } },
          );
        // Held by a live worker, or rescheduled: look again when it may be due.
        else if (job)
          await markers.updateOne({ _id: marker._id }, { $set: { nextAttemptAt: job.nextAttemptAt } });
      } catch (error) {
        // One failed read must not cost the whole batch (and the runner's back-off): the jobs
        // already found are worked now; this marker is met again next round.
        if (found.length === 0) throw error;
        logger.warn({ err: error, jobId: String(marker.jobId) }, 'reading a due job failed; next round');
        break;
      }
    }
    return found;
  }

  const readJob = (id: unknown) =>
    model.findById(id).select({ _id: 1, claimSeq: 1, status: 1, nextAttemptAt: 1 }).lean<J>();

  /**
   * A job enqueued in its marker (src/infra/due.ts) is stored the first time a worker meets it:
   * the insert alone tells whether it was stored before (usually not, so no read comes first).
   */
  async function storeJobFrom(marker: DueMarker): Promise<J | null> {
    if (await insertUnlessPresent(model.collection, marker.job!)) return marker.job as unknown as J;
    return readJob(marker.jobId); // stored before: by another worker, or an earlier enqueue
  }

  /**
   * A job enqueued in its marker again after it failed for good (a Stripe event resent from the
   * Dashboard once its cause was fixed): it starts over with a fresh round of attempts.
   */
  async function startOver(job: J, now: Date): Promise<J> {
    logger.info({ jobId: String(job._id) }, 'a job that had failed was enqueued again; starting over');
    await model.updateOne(
      { _id: job._id },
      { $set: { status: queuedStatus, attempts: 0, nextAttemptAt: now } },
    );
    // Marked again after: a worker may have tidied the marker meanwhile, as a failed job's.
    await markDue(db, name, [job._id], now);
    return { ...job, status: queuedStatus, nextAttemptAt: now };
  }

  /** Lease and take one job; the lease insert alone decides (see leases.ts). */
  async function claim(candidate: Pick<J, '_id' | 'claimSeq'>): Promise<{ job: J; seq: number } | null> {
    const now = clock.now();
    const id = String(candidate._id);
    const seq = await acquireLease(db, name, id, candidate.claimSeq ?? 0, holder, now, leaseMs);
    if (seq === null) return null;
    const job = await model.findById(candidate._id).lean<J>();
    // Settled or rescheduled since the candidate was read; or the chain moved past a very stale
    // candidate (its old leases already swept), so the position we took is not the job's.
    if (!job || !isDue(job, now) || (job.claimSeq ?? 0) > seq) {
      await releaseLease(db, name, id, seq);
      return null;
    }
    const leaseExpiresAt = new Date(now.getTime() + leaseMs);
    const attempts = job.attempts + 1;
    // Advisory: takes the job out of everyone's due query until the lease runs out. The lease
    // itself is already ours, so a crash before this write only delays the job by one lease.
    await model.updateOne(
      { _id: candidate._id },
      {
        $set: {
          status: activeStatus,
          attempts,
          claimSeq: seq,
          nextAttemptAt: leaseExpiresAt,
          leaseOwner: `${holder}:${seq}`,
          leaseExpiresAt,
        },
      },
    );
    if (options.crashAfterClaim) {
      logger.warn({ jobId: id }, 'JOB_FAULT=crash-after-claim: dying while holding the job');
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => {}); // never returns: the signal ends the process
    }
    return { job: { ...job, status: activeStatus, attempts, claimSeq: seq }, seq };
  }

  /**
   * Records the outcome if the lease is still ours. The fence insert (seq + 1) fails when a
   * claimant took the job over after our lease expired: then our late outcome is dropped.
   */
  async function settle(job: J, seq: number, set: Record<string, unknown>): Promise<boolean> {
    const id = String(job._id);
    const fence = leaseKey(name, id, seq + 1);
    const fenceExpiry = new Date(clock.now().getTime() + leaseMs);
    // A retry after a lost reply may find its own fence: that one is still ours.
    if (
      !(await insertLease(db, fence, holder, fenceExpiry)) &&
      (await leaseModel(db).findById(fence).lean<Lease>())?.holder !== holder
    ) {
      logger.warn({ jobId: id }, 'lease lost before the outcome was stored; another worker holds the job');
      return false;
    }
    await model.updateOne(
      { _id: job._id },
      { $set: { ...set, claimSeq: seq + 2 }, $unset: { leaseOwner: 1, leaseExpiresAt: 1 } },
    );
    // After the job: a crash in between leaves a marker that findDue tidies.
    const marker = dueKey(name, job._id);
    if (isFinished(String(set.status))) await markers.deleteOne({ _id: marker });
    // The job is stored by now: a marker that carried it need not any more (due scans read markers).
    // An upsert: a worker may have tidied the marker while the job was failed (a resend restarted it).
    else
      await markers.updateOne(
        { _id: marker },
        {
          $set: { nextAttemptAt: set.nextAttemptAt },
          $unset: { job: 1 },
          $setOnInsert: { queue: name, jobId: job._id, createdAt: clock.now() },
        },
        { upsert: true },
      );
    return true;
  }

  function backoffMs(attempts: number): number {
    // Exponential with "equal jitter": half fixed, half random, so delays still grow every attempt.
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** (attempts - 1));
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
  }

  /**
   * The outcome of work already done (an email sent) must not be lost to a database blip, or the
   * job would be done twice: keep trying while the lease is still ours.
   */
  async function settleWhileLeased(job: J, seq: number, set: Record<string, unknown>, until: number) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await settle(job, seq, set);
      } catch (error) {
        if (isRefusal(error) || Date.now() + 1_000 >= until) throw error;
        logger.warn(
          { jobId: String(job._id), attempt, err: error },
          'storing a job outcome failed; retrying',
        );
        await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * attempt)));
      }
    }
  }

  /** What a failed attempt stores: the next try with back-off, or, after the last one, failed. */
  async function failedAttempt(job: J, error: unknown): Promise<Record<string, unknown>> {
    const failure =
      error instanceof JobFailure ? error : new JobFailure((error as Error)?.message ?? String(error), true);
    const now = clock.now();
    if (failure.retryable && job.attempts < maxAttempts) {
      const delay = Math.max(backoffMs(job.attempts), failure.retryAfterMs ?? 0);
      if (failure.pauseQueue && failure.retryAfterMs)
        await pauseQueue(db, name, new Date(now.getTime() + failure.retryAfterMs)).catch((error) =>
          logger.warn({ err: error }, 'could not pause the queue; the job itself still waits'),
        );
      options.onRetry?.(job, failure, delay);
      return {
        status: queuedStatus,
        nextAttemptAt: new Date(now.getTime() + delay),
        lastError: failure.message,
      };
    }
    options.onFailed?.(job, failure);
    return { status: failedStatus, lastError: failure.message };
  }

  async function work({ job, seq }: { job: J; seq: number }): Promise<void> {
    const leasedUntil = Date.now() + leaseMs;
    let outcome: Record<string, unknown>;
    try {
      outcome = await options.handle(job);
    } catch (error) {
      outcome = await failedAttempt(job, error);
    }
    try {
      await settleWhileLeased(job, seq, outcome, leasedUntil);
    } catch (error) {
      if (!isRefusal(error) || outcome.status === failedStatus) throw error;
      // An outcome the model refuses is a bug in the handler, and its work is done (an email sent):
      // the job fails now, visibly, instead of being taken again after every lease, forever, or
      // retried into doing that work again. Named, not quoted: the value may be anything.
      const refused = new JobFailure(`its outcome could not be stored (${error.name})`, false);
      await settleWhileLeased(job, seq, await failedAttempt(job, refused), leasedUntil);
    }
  }

  async function paused(): Promise<boolean> {
    return (await queuePausedUntil(db, name, clock.now())) !== null;
  }

  return {
    name,
    async runOnce() {
      if (await paused()) return false;
      const due = await findDue(clock.now(), 20);
      // Start at a random candidate so concurrent workers rarely contend for the same one.
      const offset = Math.floor(random() * due.length);
      for (let i = 0; i < due.length; i++) {
        const claimed = await claim(due[(offset + i) % due.length]!);
        if (claimed) {
          await work(claimed);
          return true;
        }
      }
      return false;
    },
    async drain(shouldStop = () => false) {
      let processed = 0;
      for (;;) {
        if (shouldStop() || (await paused())) return processed;
        const due = await findDue(clock.now(), batchSize);
        let next = 0;
        let inBatch = 0;
        const lane = async () => {
          while (next < due.length && !shouldStop()) {
            const candidate = due[next++]!;
            if (await paused()) return;
            const claimed = await claim(candidate);
            if (claimed) {
              await work(claimed);
              inBatch++;
            }
          }
        };
        // Every lane ends before we return or throw: no job is left running behind stop().
        const lanes = await Promise.allSettled(Array.from({ length: concurrency }, lane));
        processed += inBatch;
        const failed = lanes.find((l) => l.status === 'rejected');
        if (failed) throw (failed as PromiseRejectedResult).reason;
        // No progress: nothing due, or every due job is another worker's. Either way, stop here.
        if (inBatch === 0) return processed;
      }
    },
    pausedUntil: () => queuePausedUntil(db, name, clock.now()),
    async backlog() {
      // From the markers: a job settled a moment ago may still be counted until findDue tidies it.
      const filter = { queue: name, nextAttemptAt: { $lte: clock.now() } };
      const [due, oldest] = await Promise.all([
        markers.countDocuments(filter),
        markers.findOne(filter).sort({ nextAttemptAt: 1 }).lean<DueMarker>(),
      ]);
      return { due, oldestDueAt: oldest?.nextAttemptAt };
    },
  };
}

/** Backlog and the age of the oldest due job per queue, read when Prometheus scrapes. */
export function registerJobMetrics(registry: Registry, clock: Clock, queues: JobQueue[]): void {
  const backlogs = async () =>
    Promise.all(queues.map(async (q) => ({ queue: q.name, ...(await q.backlog()) })));
  gauge(
    registry,
    'jobs_due',
    'Background jobs due now and not held by a worker, by queue',
    async (g) => {
      for (const b of await backlogs()) g.set({ queue: b.queue }, b.due);
    },
    ['queue'],
  );
  gauge(
    registry,
    'jobs_oldest_due_age_seconds',
    'How long the oldest due job has waited, by queue (0 when none is due)',
    async (g) => {
      const now = clock.now().getTime();
      for (const b of await backlogs())
        g.set({ queue: b.queue }, b.oldestDueAt ? Math.max(0, (now - b.oldestDueAt.getTime()) / 1000) : 0);
    },
    ['queue'],
  );
}

/** Work that runs once per period across all processes (the first to insert the period's key). */
export interface PeriodicTask {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

export interface JobRunner {
  /** Starts the loops; a job marked due by this process (src/infra/due.ts) is looked for at once. */
  start(): void;
  /** Stops taking work, lets the job in hand finish, and returns; the backlog stays for later. */
  stop(): Promise<void>;
}

export function createJobRunner(options: {
  db: Connection;
  clock: Clock;
  logger: Logger;
  queues: JobQueue[];
  tasks?: PeriodicTask[];
  pollIntervalMs?: number;
}): JobRunner {
  const { db, clock, queues, tasks = [], pollIntervalMs = 1_000 } = options;
  const logger = options.logger.child({ component: 'job-runner' });
  const holder = randomUUID().slice(0, 8);
  let stopping = false;
  let loops: Promise<void>[] = [];
  // Each sleeping loop's wake-up, with the queue it sleeps for (none: the periodic tasks' loop).
  const sleepers = new Map<() => void, string | undefined>();
  // Queues woken while their loop was busy: the loop looks again instead of sleeping.
  const woken = new Set<string>();

  function sleep(ms: number, queue?: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(10, ms));
      timer.unref();
      sleepers.set(done, queue);
    });
  }

  async function queueLoop(queue: JobQueue): Promise<void> {
    let failures = 0;
    let idleRounds = 0;
    while (!stopping) {
      try {
        const processed = await queue.drain(() => stopping);
        failures = 0;
        if (processed > 0 || woken.delete(queue.name)) {
          idleRounds = 0;
          continue;
        }
        // Idle: poll less often (up to 5 polls' time), since each poll is a query the database
        // answers by scanning on FerretDB; any work found brings the interval back.
        idleRounds = Math.min(idleRounds + 1, 5);
        const idleWait = pollIntervalMs * (1 + Math.floor(idleRounds / 2) * 2);
        const pausedUntil = await queue.pausedUntil();
        const wait = pausedUntil ? pausedUntil.getTime() - clock.now().getTime() : idleWait;
        await sleep(Math.min(Math.max(wait, pollIntervalMs), 60_000), queue.name);
        woken.delete(queue.name);
      } catch (error) {
        // The database is away, typically: wait longer each time, up to 30 s, and never spin.
        failures++;
        logger.error({ err: error, queue: queue.name, failures }, 'job queue round failed');
        // Work queued meanwhile in this process ends the wait: its marker was just written.
        await sleep(Math.min(30_000, pollIntervalMs * 2 ** Math.min(failures, 5)), queue.name);
      }
    }
  }

  async function taskLoop(): Promise<void> {
    const lastPeriod = new Map<string, number>();
    while (!stopping) {
      for (const task of tasks) {
        if (stopping) break;
        const now = clock.now();
        const period = Math.floor(now.getTime() / task.everyMs);
        if (lastPeriod.get(task.name) === period) continue;
        try {
          const key = `periodic:${task.name}:${period}`;
          const expires = new Date((period + 1) * task.everyMs);
          // One process per period runs it; a run that dies is simply run again next period.
          if (await insertLease(db, key, holder, expires)) await task.run();
          lastPeriod.set(task.name, period);
        } catch (error) {
          logger.error({ err: error, task: task.name }, 'periodic task failed');
          lastPeriod.set(task.name, period);
        }
      }
      await sleep(Math.max(pollIntervalMs, 1_000));
    }
  }

  /** New work was queued for `queue`: look now rather than at the next poll. */
  function wake(queue: string): void {
    if (stopping || !queues.some((q) => q.name === queue)) return;
    woken.add(queue);
    for (const [wakeUp, sleepingFor] of [...sleepers]) if (sleepingFor === queue) wakeUp();
  }
  let unsubscribe = () => {};

  return {
    start() {
      if (loops.length) return;
      stopping = false;
      unsubscribe = onMarkedDue(db, wake);
      loops = [...queues.map(queueLoop), ...(tasks.length ? [taskLoop()] : [])];
    },
    async stop() {
      stopping = true;
      unsubscribe();
      for (const wakeUp of [...sleepers.keys()]) wakeUp();
      await Promise.all(loops);
      loops = [];
    },
  };
}
