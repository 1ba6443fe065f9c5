import { type Connection, isValidObjectId, Types } from 'mongoose';
import type { Clock } from '../infra/clock.js';
import { insertJob, jobIdFor, markDue } from '../infra/due.js';
import { listAtAddress } from './address-records.js';
import { DEFAULT_LOCALE, EMAIL_TEMPLATES, type TemplateData, type TemplateName } from './catalog.js';
import { EMAIL_QUEUE, emailModels } from './email.model.js';
import { normalizeEmail } from './suppression.service.js';

export interface EnqueueEmailInput<T extends TemplateName> {
  template: T;
  to: { email: string; name?: string };
  data: TemplateData<T>;
  /** Names the message, e.g. `welcome:<memberId>`: the same key twice stores one job. */
  idempotencyKey: string;
  locale?: string;
  /** For mail that belongs to a list: adds RFC 8058 one-click List-Unsubscribe headers. */
  listUnsubscribeUrl?: string;
  /** The caller listed the job under its address already (address-records.ts), with its other writes. */
  listed?: boolean;
}

/**
 * Puts an email in the outbox and returns at once; a worker sends it. Never contacts the provider,
 * so a provider outage delays mail but never fails the caller's request.
 */
export async function enqueueEmail<T extends TemplateName>(
  db: Connection,
  clock: Clock,
  input: EnqueueEmailInput<T>,
): Promise<{ jobId: string; created: boolean }> {
  const definition = EMAIL_TEMPLATES[input.template];
  // Data that does not fit its template is a programming error: fail here, not in the worker.
  const data = definition.data.parse(input.data);
  const { EmailJob } = emailModels(db);
  const insert = {
    template: input.template,
    kind: definition.kind,
    locale: input.locale ?? DEFAULT_LOCALE,
    to: { email: normalizeEmail(input.to.email), name: input.to.name },
    data,
    listUnsubscribeUrl: input.listUnsubscribeUrl,
    status: 'pending' as const,
    attempts: 0,
    claimSeq: 0,
    nextAttemptAt: clock.now(),
  };
  // Listed under its address first, for the reader's data export and erasure (address-records.ts).
  if (!input.listed)
    await listAtAddress(db, insert.to.email, [
      { kind: 'email-job', ref: String(jobIdFor(input.idempotencyKey)) },
    ]);
  // The id follows from the key: a duplicate is refused by the insert itself, with no lookup.
  return insertJob(db, EMAIL_QUEUE, EmailJob, input.idempotencyKey, {
    idempotencyKey: input.idempotencyKey,
    ...insert,
  });
}

/** Failed jobs, newest first, for a person deciding what to re-queue. */
export async function listFailedEmails(db: Connection, limit = 50) {
  return emailModels(db)
    .EmailJob.find({ status: 'failed' })
    .sort({ updatedAt: -1 })
    .limit(limit)
    .select({ template: 1, to: 1, attempts: 1, lastError: 1, updatedAt: 1 })
    .lean();
}

/** Gives failed jobs a fresh set of attempts, due now. Sent and suppressed jobs are never touched. */
export async function requeueFailedEmails(
  db: Connection,
  clock: Clock,
  which: { jobIds: string[] } | { all: true },
): Promise<number> {
  const { EmailJob } = emailModels(db);
  const ids =
    'all' in which
      ? (await EmailJob.find({ status: 'failed' }).select({ _id: 1 }).lean()).map((job) => job._id)
      : which.jobIds.filter((id) => isValidObjectId(id)).map((id) => new Types.ObjectId(id));
  // Marked before and after: a queue tidying markers of finished jobs meanwhile cannot strand one.
  await markDue(db, EMAIL_QUEUE, ids, clock.now());
  let requeued = 0;
  for (const _id of ids) {
    const result = await EmailJob.updateOne(
      { _id, status: 'failed' },
      { $set: { status: 'pending', attempts: 0, nextAttemptAt: clock.now() } },
    );
    requeued += result.modifiedCount;
  }
  await markDue(db, EMAIL_QUEUE, ids, clock.now());
  return requeued;
}
