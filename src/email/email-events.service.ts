import { type Connection, isValidObjectId } from 'mongoose';
import { z } from 'zod';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { listAtAddresses } from './address-records.js';
import { emailModels } from './email.model.js';
import { suppressAddress } from './suppression.service.js';

/** One event of SendGrid's Event Webhook; fields we do not use are kept out of storage. */
export const sendgridEventSchema = z.looseObject({
  email: z.string().min(3),
  event: z.string().min(1),
  sg_event_id: z.string().min(1).max(200),
  // Seconds; bounded so that every value is a date (1e15 is not, and failed to store with 500).
  timestamp: z.number().int().min(0).max(253_402_300_799), // 9999-12-31T23:59:59Z
  job_id: z.string().optional(), // our custom arg, echoed back on every event
  type: z.string().optional(), // on bounces: "bounce" (permanent) or "blocked" (temporary)
  reason: z.string().optional(),
});
export const sendgridEventBatchSchema = z.array(sendgridEventSchema).max(10_000);
export type SendgridEvent = z.infer<typeof sendgridEventSchema>;

/**
 * Applies each event once. SendGrid delivers events at least once and often twice, so each
 * sg_event_id is recorded first (a unique key); a duplicate finds it taken and is skipped. If
 * applying fails, the record is removed so SendGrid's retry applies it.
 */
export async function applyEmailEvents(
  db: Connection,
  clock: Clock,
  events: SendgridEvent[],
  domainEvents?: DomainEvents,
): Promise<{ processed: number; duplicates: number }> {
  const { EmailEvent } = emailModels(db);
  let processed = 0;
  let duplicates = 0;
  // Listed under their addresses first, in the day's lists (address-records.ts), so an erasure
  // finds them: one bulk write for the batch (SendGrid posts up to thousands of events at once).
  const now = clock.now();
  await listAtAddresses(
    db,
    events.map((e) => ({
      email: e.email,
      at: now,
      items: [{ kind: 'email-event' as const, ref: e.sg_event_id }],
    })),
  );
  for (const event of events) {
    const occurredAt = new Date(event.timestamp * 1000);
    try {
      await EmailEvent.create({
        _id: event.sg_event_id,
        event: event.event,
        email: event.email,
        jobId: event.job_id,
        occurredAt,
        receivedAt: clock.now(),
      });
    } catch (error) {
      if (isDuplicateKey(error)) {
        duplicates++;
        continue;
      }
      throw error;
    }
    try {
      const suppressed = await applyEvent(db, event, occurredAt);
      if (suppressed)
        await domainEvents?.publish('address.suppressed', {
          email: event.email.toLowerCase(),
          reason: event.event,
        });
      processed++;
    } catch (error) {
      await EmailEvent.deleteOne({ _id: event.sg_event_id });
      throw error;
    }
  }
  return { processed, duplicates };
}

/** Returns true when the event suppressed the address. */
async function applyEvent(db: Connection, event: SendgridEvent, at: Date): Promise<boolean> {
  const { EmailJob } = emailModels(db);
  const jobId = event.job_id && isValidObjectId(event.job_id) ? event.job_id : undefined;
  switch (event.event) {
    case 'bounce':
      // A "blocked" bounce is temporary (the receiving server refused for now): not a reason to stop.
      if (event.type === 'blocked') return false;
      await suppressAddress(db, { email: event.email, reason: 'bounce', detail: event.reason, at });
      return true;
    case 'dropped':
    case 'spamreport':
    case 'unsubscribe':
      await suppressAddress(db, { email: event.email, reason: event.event, detail: event.reason, at });
      return true;
    case 'delivered':
    case 'open': {
      if (!jobId) return false;
      // The first time is kept. Read then write by primary key (a condition on the field would
      // scan every job on FerretDB); two events racing both write a time within the same moments.
      const field = event.event === 'delivered' ? 'deliveredAt' : 'openedAt';
      const job = await EmailJob.findById(jobId)
        .select({ [field]: 1 })
        .lean();
      if (job && !job[field]) await EmailJob.updateOne({ _id: jobId }, { $set: { [field]: at } });
      return false;
    }
    default:
      return false; // processed, deferred, click, group events: recorded, nothing to change
  }
}
