import type { Connection } from 'mongoose';
import type { Clock } from '../infra/clock.js';
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
    status: 'pending',
    attempts: 0,
    nextAttemptAt: clock.now(),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await EmailJob.findOneAndUpdate(
        { idempotencyKey: input.idempotencyKey },
        { $setOnInsert: insert },
        { upsert: true, returnDocument: 'after', includeResultMetadata: true },
      );
      return { jobId: String(result.value!._id), created: !result.lastErrorObject?.updatedExisting };
    } catch (error) {
      // Two concurrent upserts of one key: the loser sees the unique index; the job exists now.
      if ((error as { code?: number }).code === 11000 && attempt === 0) continue;
      throw error;
    }
  }
}
