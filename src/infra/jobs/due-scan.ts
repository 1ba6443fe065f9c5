import { insertUnlessPresent } from '../db.js';
import { type DueMarker, markDue } from '../due.js';
import type { QueuedJob, QueueSettings } from './job.js';

// Finding due work: the due markers (src/infra/due.ts) are read, then each job by primary key, so
// a scan never reads the finished jobs a queue keeps. Stale markers are tidied on the way.

export type DueCandidate<J extends QueuedJob> = Pick<J, '_id' | 'claimSeq'>;

/**
 * Only due jobs: pending ones whose time came, and held ones whose lease ran out. Reads the
 * markers (src/infra/due.ts), then each job by primary key; tidies markers it finds stale.
 */
export async function findDue<J extends QueuedJob>(
  q: QueueSettings<J>,
  now: Date,
  limit: number,
): Promise<DueCandidate<J>[]> {
  const { markers, name, leaseMs, logger } = q;
  const due = await markers
    .find({ queue: name, nextAttemptAt: { $lte: now } })
    .sort({ nextAttemptAt: 1 })
    .limit(limit)
    .lean<DueMarker[]>();
  const found: DueCandidate<J>[] = [];
  for (const marker of due) {
    try {
      let job = marker.job ? await storeJobFrom(q, marker) : await readJob(q, marker.jobId);
      if (job?.status === q.failedStatus && marker.job) job = await startOver(q, job, now);
      if (job && q.isDue(job, now)) found.push(job);
      // No job a lease after its marker: the enqueue died between the two writes.
      else if (
        (!job && marker.createdAt.getTime() < now.getTime() - leaseMs) ||
        (job && q.isFinished(job.status))
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

const readJob = <J extends QueuedJob>(q: QueueSettings<J>, id: unknown) =>
  q.model.findById(id).select({ _id: 1, claimSeq: 1, status: 1, nextAttemptAt: 1 }).lean<J>();

/**
 * A job enqueued in its marker (src/infra/due.ts) is stored the first time a worker meets it:
 * the insert alone tells whether it was stored before (usually not, so no read comes first).
 */
async function storeJobFrom<J extends QueuedJob>(q: QueueSettings<J>, marker: DueMarker): Promise<J | null> {
  if (await insertUnlessPresent(q.model.collection, marker.job!)) return marker.job as unknown as J;
  return readJob(q, marker.jobId); // stored before: by another worker, or an earlier enqueue
}

/**
 * A job enqueued in its marker again after it failed for good (a Stripe event resent from the
 * Dashboard once its cause was fixed): it starts over with a fresh round of attempts.
 */
async function startOver<J extends QueuedJob>(q: QueueSettings<J>, job: J, now: Date): Promise<J> {
  q.logger.info({ jobId: String(job._id) }, 'a job that had failed was enqueued again; starting over');
  await q.model.updateOne(
    { _id: job._id },
    { $set: { status: q.queuedStatus, attempts: 0, nextAttemptAt: now } },
  );
  // Marked again after: a worker may have tidied the marker meanwhile, as a failed job's.
  await markDue(q.db, q.name, [job._id], now);
  return { ...job, status: q.queuedStatus, nextAttemptAt: now };
}
