import type { DueMarker } from '../due.js';
import { queuePausedUntil } from '../leases.js';
import { work } from './attempt.js';
import { findDue } from './due-scan.js';
import { type JobQueueOptions, type QueuedJob, queueSettings } from './job.js';
import { claim } from './lease.js';

// The one job runner for background work. Two kinds of work:
// - queues (email outbox, SendGrid Marketing sync): documents with a status and a due time,
//   stored with a due marker (due.ts) so finding work never reads finished jobs, each attempt
//   taken under a lease (leases.ts), retried with jittered backoff;
// - periodic tasks (gift delivery, sweeps, settlement): run once per period across all
//   processes, decided by inserting the period's key (runner.ts).
// Every loop either makes progress or sleeps, and stop() returns after the job in hand.
// README.md beside this file tells the lease and fence protocol.

export { JobFailure, type JobQueueOptions, type QueuedJob } from './job.js';

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
  const q = queueSettings(options);
  const { name, db, clock, markers, concurrency, batchSize, random } = q;

  async function paused(): Promise<boolean> {
    return (await queuePausedUntil(db, name, clock.now())) !== null;
  }

  async function runOnce(): Promise<boolean> {
    if (await paused()) return false;
    const due = await findDue(q, clock.now(), 20);
    // Start at a random candidate so concurrent workers rarely contend for the same one.
    const offset = Math.floor(random() * due.length);
    for (let i = 0; i < due.length; i++) {
      const claimed = await claim(q, due[(offset + i) % due.length]!);
      if (claimed) {
        await work(q, claimed);
        return true;
      }
    }
    return false;
  }

  async function drain(shouldStop = () => false): Promise<number> {
    let processed = 0;
    for (;;) {
      if (shouldStop() || (await paused())) return processed;
      const due = await findDue(q, clock.now(), batchSize);
      let next = 0;
      let inBatch = 0;
      const lane = async () => {
        while (next < due.length && !shouldStop()) {
          const candidate = due[next++]!;
          if (await paused()) return;
          const claimed = await claim(q, candidate);
          if (claimed) {
            await work(q, claimed);
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
  }

  async function backlog(): Promise<{ due: number; oldestDueAt?: Date }> {
    // From the markers: a job settled a moment ago may still be counted until findDue tidies it.
    const filter = { queue: name, nextAttemptAt: { $lte: clock.now() } };
    const [due, oldest] = await Promise.all([
      markers.countDocuments(filter),
      markers.findOne(filter).sort({ nextAttemptAt: 1 }).lean<DueMarker>(),
    ]);
    return { due, oldestDueAt: oldest?.nextAttemptAt };
  }

  return {
    name,
    runOnce,
    drain,
    pausedUntil: () => queuePausedUntil(db, name, clock.now()),
    backlog,
  };
}
