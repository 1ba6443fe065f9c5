import type { Connection } from 'mongoose';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import { DEFAULT_LOCALE, EMAIL_TEMPLATES, type TemplateData, type TemplateName } from './catalog.js';
import { emailModels } from './email.model.js';
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
  // Insert first: the unique index on the key decides, atomically on every backend, and the
  // common case (a new message) costs one write.
  try {
    const job = await EmailJob.create({ idempotencyKey: input.idempotencyKey, ...insert });
    return { jobId: String(job._id), created: true };
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    const existing = await EmailJob.findOne({ idempotencyKey: input.idempotencyKey })
      .select({ _id: 1 })
      .lean();
    return { jobId: String(existing!._id), created: false };
  }
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
  const filter =
    'all' in which
      ? { status: 'failed' as const }
      : { status: 'failed' as const, _id: { $in: which.jobIds } };
  const result = await emailModels(db).EmailJob.updateMany(filter, {
    $set: { status: 'pending', attempts: 0, nextAttemptAt: clock.now() },
  });
  return result.modifiedCount;
}
