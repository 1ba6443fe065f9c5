import { dueKey } from '../due.js';
import { acquireLease, insertLease, type Lease, leaseKey, leaseModel, releaseLease } from '../leases.js';
import type { DueCandidate } from './due-scan.js';
import type { QueuedJob, QueueSettings } from './job.js';

// Taking a job and storing its outcome under a lease (src/infra/leases.ts): the lease insert
// decides who takes the job, and the fence insert (seq + 1) decides whether a late outcome still
// counts. README.md beside this file tells the protocol.

export interface Claimed<J extends QueuedJob> {
  job: J;
  seq: number;
}

/** Lease and take one job; the lease insert alone decides (see leases.ts). */
export async function claim<J extends QueuedJob>(
  q: QueueSettings<J>,
  candidate: DueCandidate<J>,
): Promise<Claimed<J> | null> {
  const { db, name, model, holder, leaseMs, logger } = q;
  const now = q.clock.now();
  const id = String(candidate._id);
  const seq = await acquireLease(db, name, id, candidate.claimSeq ?? 0, holder, now, leaseMs);
  if (seq === null) return null;
  const job = await model.findById(candidate._id).lean<J>();
  // Settled or rescheduled since the candidate was read; or the chain moved past a very stale
  // candidate (its old leases already swept), so the position we took is not the job's.
  if (!job || !q.isDue(job, now) || (job.claimSeq ?? 0) > seq) {
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
        status: q.activeStatus,
        attempts,
        claimSeq: seq,
        nextAttemptAt: leaseExpiresAt,
        leaseOwner: `${holder}:${seq}`,
        leaseExpiresAt,
      },
    },
  );
  if (q.options.crashAfterClaim) {
    logger.warn({ jobId: id }, 'JOB_FAULT=crash-after-claim: dying while holding the job');
    process.kill(process.pid, 'SIGKILL');
    await new Promise(() => {}); // never returns: the signal ends the process
  }
  return { job: { ...job, status: q.activeStatus, attempts, claimSeq: seq }, seq };
}

/**
 * Records the outcome if the lease is still ours. The fence insert (seq + 1) fails when a
 * claimant took the job over after our lease expired: then our late outcome is dropped.
 */
export async function settle<J extends QueuedJob>(
  q: QueueSettings<J>,
  job: J,
  seq: number,
  set: Record<string, unknown>,
): Promise<boolean> {
  const { db, name, holder, clock, markers } = q;
  const id = String(job._id);
  const fence = leaseKey(name, id, seq + 1);
  const fenceExpiry = new Date(clock.now().getTime() + q.leaseMs);
  // A retry after a lost reply may find its own fence: that one is still ours.
  if (
    !(await insertLease(db, fence, holder, fenceExpiry)) &&
    (await leaseModel(db).findById(fence).lean<Lease>())?.holder !== holder
  ) {
    q.logger.warn({ jobId: id }, 'lease lost before the outcome was stored; another worker holds the job');
    return false;
  }
  await q.model.updateOne(
    { _id: job._id },
    { $set: { ...set, claimSeq: seq + 2 }, $unset: { leaseOwner: 1, leaseExpiresAt: 1 } },
  );
  // After the job: a crash in between leaves a marker that findDue tidies.
  const marker = dueKey(name, job._id);
  if (q.isFinished(String(set.status))) await markers.deleteOne({ _id: marker });
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
