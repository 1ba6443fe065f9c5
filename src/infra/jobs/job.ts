import { randomUUID } from 'node:crypto';
import mongoose, { type Connection, type Model, type Types } from 'mongoose';
import type { Clock } from '../clock.js';
import { dueModel } from '../due.js';
import type { Logger } from '../logger.js';

// What a queued job is, what a queue is configured with, and the settings every part of a queue
// shares (the due scan, the lease and the attempt). README.md beside this file tells the protocol.

/** The fields every queued job has; each queue's model adds its own. */
export interface QueuedJob {
  _id: Types.ObjectId | string;
  status: string;
  attempts: number;
  /** The lease chain position to try next (leases.ts); only lease holders write it. */
  claimSeq: number;
  nextAttemptAt: Date;
}

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

/**
 * Mongoose refusing a value (cast, validation, strict mode): it would refuse it again. Not any
 * mongoose error: a command that timed out waiting for the connection is one too, and is a blip.
 */
export const isRefusal = (error: unknown) =>
  error instanceof mongoose.Error.CastError ||
  error instanceof mongoose.Error.ValidationError ||
  error instanceof mongoose.Error.StrictModeError;

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

/** A queue's options with their defaults filled in, and what its parts derive from them. */
export interface QueueSettings<J extends QueuedJob> {
  options: JobQueueOptions<J>;
  name: string;
  db: Connection;
  model: Model<J>;
  clock: Clock;
  queuedStatus: string;
  activeStatus: string;
  failedStatus: string;
  leaseMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  concurrency: number;
  batchSize: number;
  random: () => number;
  /** This worker's name in the lease documents. */
  holder: string;
  logger: Logger;
  markers: ReturnType<typeof dueModel>;
  /** Waiting or held: a job the queue still has to finish. */
  isDue(job: J, now: Date): boolean;
  isFinished(status: string): boolean;
}

export function queueSettings<J extends QueuedJob>(options: JobQueueOptions<J>): QueueSettings<J> {
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
  const holder = randomUUID().slice(0, 8);
  const dueStatuses = [queuedStatus, activeStatus];
  return {
    options,
    name,
    db,
    model,
    clock,
    queuedStatus,
    activeStatus,
    failedStatus,
    leaseMs,
    maxAttempts,
    retryBaseMs,
    retryMaxMs,
    concurrency,
    batchSize: options.batchSize ?? concurrency * 16,
    random,
    holder,
    logger: options.logger.child({ component: 'jobs', queue: name, holder }),
    markers: dueModel(db),
    isDue: (job, now) => dueStatuses.includes(job.status) && job.nextAttemptAt <= now,
    isFinished: (status) => !dueStatuses.includes(status),
  };
}
