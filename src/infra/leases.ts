import { type Connection, Schema } from 'mongoose';
import { isDuplicateKey } from './db.js';

// Leases for background work. On FerretDB the only atomic primitive is an insert with a unique
// _id, so a lease IS such an insert: `lease:<queue>:<jobId>:<seq>`, holding an expiry. Taking a
// job and leasing it are one step, so a crash can never leave a job taken but unleased.
//
// Leases of one job form a chain, seq 0, 1, 2, ... Whoever inserts seq n holds the job until
// n's expiry. A later claimant that finds n taken and expired (its holder died) inserts n+1.
// The holder settles its outcome only after inserting n+1 itself (the "fence"): if a claimant
// took n+1 first, the dead worker's late outcome is dropped instead of overwriting the job.

export interface Lease {
  _id: string;
  holder: string;
  expiresAt: Date;
}

const leaseSchema = new Schema<Lease>(
  {
    _id: String,
    holder: { type: String, required: true },
    expiresAt: { type: Date, required: true, index: true },
  },
  { versionKey: false },
);

export function registerLeaseModel(db: Connection): void {
  if (!db.models.Lease) db.model('Lease', leaseSchema, 'job_leases');
}

export const leaseModel = (db: Connection) => db.model<Lease>('Lease');

export const leaseKey = (queue: string, jobId: string, seq: number) => `lease:${queue}:${jobId}:${seq}`;

/** One insert: true if this caller now holds the key until `expiresAt`. */
export async function insertLease(db: Connection, key: string, holder: string, expiresAt: Date) {
  try {
    await leaseModel(db).create({ _id: key, holder, expiresAt });
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/**
 * Takes the first free lease of a job's chain from `fromSeq` on, stepping over leases whose
 * holders ran out of time. Returns the seq held, or null when a live holder has it. Every step
 * is a primary-key insert or read, and each step past `fromSeq` needs an expired lease, so the
 * walk is as long as the number of workers that died holding this job.
 */
export async function acquireLease(
  db: Connection,
  queue: string,
  jobId: string,
  fromSeq: number,
  holder: string,
  now: Date,
  leaseMs: number,
): Promise<number | null> {
  const expiresAt = new Date(now.getTime() + leaseMs);
  for (let seq = fromSeq; ; seq++) {
    const key = leaseKey(queue, jobId, seq);
    if (await insertLease(db, key, holder, expiresAt)) return seq;
    const existing = await leaseModel(db).findById(key).lean<Lease>();
    // Deleted meanwhile (released, or swept): try the same seq once more on the next round.
    if (!existing || existing.expiresAt > now) return null;
  }
}

/** Gives a lease back untouched (the job turned out not to be due). */
export async function releaseLease(db: Connection, queue: string, jobId: string, seq: number) {
  await leaseModel(db).deleteOne({ _id: leaseKey(queue, jobId, seq) });
}

/** A pause every worker of a queue honours, e.g. after SendGrid's 429 with Retry-After. */
export async function pauseQueue(db: Connection, queue: string, until: Date): Promise<void> {
  await leaseModel(db).updateOne(
    { _id: `pause:${queue}` },
    { $set: { holder: 'pause', expiresAt: until } },
    { upsert: true },
  );
}

export async function queuePausedUntil(db: Connection, queue: string, now: Date): Promise<Date | null> {
  const pause = await leaseModel(db).findById(`pause:${queue}`).lean<Lease>();
  return pause && pause.expiresAt > now ? pause.expiresAt : null;
}

/** Leases matter only while their job is contended; expired ones are swept by the retention job. */
export async function sweepLeases(db: Connection, expiredBefore: Date, limit = 5_000): Promise<number> {
  const Leases = leaseModel(db);
  const old = await Leases.find({ expiresAt: { $lt: expiredBefore } })
    .select({ _id: 1 })
    .limit(limit)
    .lean();
  if (old.length === 0) return 0;
  const result = await Leases.deleteMany({ _id: { $in: old.map((l) => l._id) } });
  return result.deletedCount;
}
