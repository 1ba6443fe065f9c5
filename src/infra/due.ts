import { createHash } from 'node:crypto';
import { type Connection, type Model, Schema, Types } from 'mongoose';
import { insertUnlessPresent, isDuplicateKey } from './db.js';

// Which queued jobs may be due, kept apart from the jobs themselves. A queue's collection keeps
// every job it ever ran (100,000 sent emails at the newsroom's size), and on FerretDB a query on
// anything but `_id` decodes the whole collection; the due query reads this collection instead,
// which holds only unfinished jobs, then each job by primary key.
//
// A marker is written BEFORE its job, so no crash can leave a job without one; a marker whose job
// never appeared, or has finished, is removed by the queue when it meets it (src/infra/jobs/due-scan.ts).
// A duplicate enqueue may bring back the marker of a finished job: the same clean-up removes it.
// A marker's time is a hint: the job's own status and time decide.
//
// A marker may carry its job (`job`): then enqueueing is one insert, and the queue stores the job
// from the marker when it first meets it (a Stripe event's ingest, the hottest write path). Until
// then the job exists only in its marker, so whoever enqueues that way must look for it there too.
// Such a marker for a job already stored is a new enqueue of it: a finished job stays as it is
// (the marker is tidied), one that failed for good starts over.

export interface DueMarker {
  _id: string; // `<queue>:<jobId>`
  queue: string;
  jobId: Types.ObjectId | string;
  nextAttemptAt: Date;
  createdAt: Date;
  /** The job itself, when it was enqueued in its marker and not yet stored (see above). */
  job?: Record<string, unknown>;
}

const dueSchema = new Schema<DueMarker>(
  {
    _id: String,
    queue: { type: String, required: true },
    jobId: { type: Schema.Types.Mixed, required: true },
    nextAttemptAt: { type: Date, required: true },
    createdAt: { type: Date, required: true },
    job: Schema.Types.Mixed,
  },
  { versionKey: false },
);
dueSchema.index({ queue: 1, nextAttemptAt: 1 });

export function registerDueModel(db: Connection): void {
  if (!db.models.DueMarker) db.model('DueMarker', dueSchema, 'job_due');
}

export const dueModel = (db: Connection) => db.model<DueMarker>('DueMarker');

export const dueKey = (queue: string, jobId: unknown) => `${queue}:${String(jobId)}`;

// The job runners of this process on a connection, told when a job is marked due, so that work
// queued here starts now rather than at their next poll (work queued by another process waits for
// the poll). A marker written also proves the database is answering: a runner backing off after
// an outage looks again at once.
const dueListeners = new WeakMap<Connection, Set<(queue: string) => void>>();

/** Calls `listener` with the queue's name whenever this process marks a job due on `db`; returns the unsubscribe. */
export function onMarkedDue(db: Connection, listener: (queue: string) => void): () => void {
  const listeners = dueListeners.get(db) ?? new Set();
  dueListeners.set(db, listeners);
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function markedDue(db: Connection, queue: string): void {
  for (const listener of dueListeners.get(db) ?? []) listener(queue);
}

/**
 * Marks jobs due at `at` (written before the jobs are, or before they are made pending again).
 * Returns how many markers it wrote: fewer when some existed already.
 */
export async function markDue(db: Connection, queue: string, jobIds: unknown[], at: Date): Promise<number> {
  if (jobIds.length === 0) return 0;
  const markers = jobIds.map((jobId) => ({
    _id: dueKey(queue, jobId),
    queue,
    jobId,
    nextAttemptAt: at,
    createdAt: at,
  }));
  let written = markers.length;
  try {
    // One marker (every enqueue, every Stripe event) skips the driver's bulk path.
    const collection = dueModel(db).collection;
    if (markers.length === 1) await collection.insertOne(markers[0] as never);
    else await collection.insertMany(markers as never[], { ordered: false });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error; // already marked: the marker's job decides anyway
    written = (error as { result?: { insertedCount?: number } }).result?.insertedCount ?? 0;
  }
  markedDue(db, queue);
  return written;
}

/**
 * Enqueues a job in its marker: one insert. False when the job's marker exists already (queued, or
 * a finished job's marker not yet tidied): the caller decides from the stored job, if any.
 */
export async function markDueWithJob(
  db: Connection,
  queue: string,
  job: { _id: unknown; nextAttemptAt: Date },
): Promise<boolean> {
  const inserted = await insertUnlessPresent(dueModel(db).collection, {
    _id: dueKey(queue, job._id),
    queue,
    jobId: job._id,
    nextAttemptAt: job.nextAttemptAt,
    createdAt: job.nextAttemptAt,
    job,
  });
  markedDue(db, queue);
  return inserted;
}

/**
 * A job's `_id` derived from its idempotency key: the same job enqueued twice has the same id and
 * the same marker, so a duplicate costs no lookup and leaves nothing behind.
 */
export const jobIdFor = (key: string) =>
  new Types.ObjectId(createHash('sha256').update(key).digest().subarray(0, 12));

/** Stores a new job with its marker; `created` is false when the job was enqueued before. */
export async function insertJob<J extends { nextAttemptAt: Date }>(
  db: Connection,
  queue: string,
  model: Model<J>,
  key: string,
  doc: Omit<J, '_id' | 'createdAt' | 'updatedAt'>,
): Promise<{ jobId: string; created: boolean }> {
  const jobId = jobIdFor(key);
  await markDue(db, queue, [jobId], doc.nextAttemptAt);
  try {
    await model.create({ ...doc, _id: jobId } as never);
    return { jobId: String(jobId), created: true };
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return { jobId: String(jobId), created: false };
  }
}

/** Marks the unfinished jobs of a queue stored before it kept markers (a migration, run once). */
export async function backfillDueMarkers(
  db: Connection,
  queue: string,
  model: Model<never>,
  unfinished: string[],
): Promise<number> {
  const jobs = await model.collection
    .find({ status: { $in: unfinished } }, { projection: { _id: 1 } })
    .toArray();
  await markDue(
    db,
    queue,
    jobs.map((job) => job._id),
    new Date(),
  );
  return jobs.length;
}
