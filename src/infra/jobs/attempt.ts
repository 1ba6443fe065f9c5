import { pauseQueue } from '../leases.js';
import { isRefusal, JobFailure, type QueuedJob, type QueueSettings } from './job.js';
import { type Claimed, settle } from './lease.js';

// One attempt at a claimed job: the handler's work, then its outcome stored under the lease; a
// failure becomes the next try with back-off, or, after the last one, a failed job.

export async function work<J extends QueuedJob>(
  q: QueueSettings<J>,
  { job, seq }: Claimed<J>,
): Promise<void> {
  const leasedUntil = Date.now() + q.leaseMs;
  let outcome: Record<string, unknown>;
  try {
    outcome = await q.options.handle(job);
  } catch (error) {
    outcome = await failedAttempt(q, job, error);
  }
  try {
    await settleWhileLeased(q, job, seq, outcome, leasedUntil);
  } catch (error) {
    if (!isRefusal(error) || outcome.status === q.failedStatus) throw error;
    // An outcome the model refuses is a bug in the handler, and its work is done (an email sent):
    // the job fails now, visibly, instead of being taken again after every lease, forever, or
    // retried into doing that work again. Named, not quoted: the value may be anything.
    const refused = new JobFailure(`its outcome could not be stored (${error.name})`, false);
    await settleWhileLeased(q, job, seq, await failedAttempt(q, job, refused), leasedUntil);
  }
}

/**
 * The outcome of work already done (an email sent) must not be lost to a database blip, or the
 * job would be done twice: keep trying while the lease is still ours.
 */
async function settleWhileLeased<J extends QueuedJob>(
  q: QueueSettings<J>,
  job: J,
  seq: number,
  set: Record<string, unknown>,
  until: number,
) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await settle(q, job, seq, set);
    } catch (error) {
      if (isRefusal(error) || Date.now() + 1_000 >= until) throw error;
      q.logger.warn(
        { jobId: String(job._id), attempt, err: error },
        'storing a job outcome failed; retrying',
      );
      await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * attempt)));
    }
  }
}

function backoffMs<J extends QueuedJob>(q: QueueSettings<J>, attempts: number): number {
  // Exponential with "equal jitter": half fixed, half random, so delays still grow every attempt.
  const ceiling = Math.min(q.retryMaxMs, q.retryBaseMs * 2 ** (attempts - 1));
  return Math.round(ceiling / 2 + q.random() * (ceiling / 2));
}

/** What a failed attempt stores: the next try with back-off, or, after the last one, failed. */
async function failedAttempt<J extends QueuedJob>(
  q: QueueSettings<J>,
  job: J,
  error: unknown,
): Promise<Record<string, unknown>> {
  const failure =
    error instanceof JobFailure ? error : new JobFailure((error as Error)?.message ?? String(error), true);
  const now = q.clock.now();
  if (failure.retryable && job.attempts < q.maxAttempts) {
    const delay = Math.max(backoffMs(q, job.attempts), failure.retryAfterMs ?? 0);
    if (failure.pauseQueue && failure.retryAfterMs)
      await pauseQueue(q.db, q.name, new Date(now.getTime() + failure.retryAfterMs)).catch((error) =>
        q.logger.warn({ err: error }, 'could not pause the queue; the job itself still waits'),
      );
    q.options.onRetry?.(job, failure, delay);
    return {
      status: q.queuedStatus,
      nextAttemptAt: new Date(now.getTime() + delay),
      lastError: failure.message,
    };
  }
  q.options.onFailed?.(job, failure);
  return { status: q.failedStatus, lastError: failure.message };
}
