import fc from 'fast-check';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EMAIL_QUEUE, emailModels } from '../../src/email/email.model.js';
import { enqueueEmail, requeueFailedEmails } from '../../src/email/outbox.service.js';
import { dueModel, jobIdFor, markDue } from '../../src/infra/due.js';
import { leaseModel } from '../../src/infra/leases.js';
import { deep } from '../support/depth.js';
import { workerAgainstCapture } from '../support/email.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

// The outbox finds work through due markers (src/infra/due.ts) so that it never reads the sent
// mail piling up beside it. The guarantee: whatever happens (duplicates, provider errors, an
// enqueue dying between its two writes, staff re-queueing), no unfinished email is ever without a
// marker, and once the provider recovers every email goes out exactly once and no marker is left.

let db: Connection;
let capture: SendgridCapture;

beforeAll(async () => {
  db = await createTestDatabase();
  capture = await startSendgridCapture();
});
afterAll(async () => {
  await capture.close();
  await releaseTestDatabase(db);
});

type Step =
  | { do: 'enqueue'; key: number }
  | { do: 'die-after-marker'; key: number }
  | { do: 'drain'; answer: 202 | 500 | 400 }
  | { do: 'requeue-failed' }
  | { do: 'wait'; minutes: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ do: fc.constant('enqueue' as const), key: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ do: fc.constant('die-after-marker' as const), key: fc.integer({ min: 8, max: 11 }) }),
  fc.record({
    do: fc.constant('drain' as const),
    answer: fc.constantFrom(202 as const, 500 as const, 400 as const),
  }),
  fc.record({ do: fc.constant('requeue-failed' as const) }),
  fc.record({ do: fc.constant('wait' as const), minutes: fc.integer({ min: 0, max: 120 }) }),
);

const mail = (key: number) => ({
  template: 'member-welcome' as const,
  to: { email: `reader${key}@example.com` },
  data: { planName: 'Supporter, monthly', accountUrl: 'https://members.test/account' },
  idempotencyKey: `due-welcome:${key}`,
});

async function unmarkedUnfinished(): Promise<string[]> {
  const unfinished = await emailModels(db)
    .EmailJob.find({ status: { $in: ['pending', 'sending'] } })
    .select({ _id: 1 })
    .lean();
  const marked = new Set((await dueModel(db).find().lean()).map((m) => String(m.jobId)));
  return unfinished.map((j) => String(j._id)).filter((id) => !marked.has(id));
}

it('when emails are enqueued, duplicated, failed, re-queued and enqueues die half-way in any order, then no unfinished email lacks a due marker, and after recovery each goes out once and no marker is left', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
      capture.reset();
      await Promise.all([
        emailModels(db).EmailJob.deleteMany({}),
        dueModel(db).deleteMany({}),
        leaseModel(db).deleteMany({}),
      ]);
      const clock = manualClock();
      const worker = workerAgainstCapture(db, capture, clock, { maxAttempts: 3, retryBaseMs: 1_000 });
      const enqueued = new Set<number>();
      for (const s of steps) {
        if (s.do === 'enqueue') {
          await enqueueEmail(db, clock, mail(s.key));
          enqueued.add(s.key);
        } else if (s.do === 'die-after-marker') {
          // The process died after writing the marker and before the job.
          await markDue(db, EMAIL_QUEUE, [jobIdFor(mail(s.key).idempotencyKey)], clock.now());
        } else if (s.do === 'drain') {
          capture.respondAlways({ status: s.answer });
          await worker.drain();
        } else if (s.do === 'requeue-failed') {
          await requeueFailedEmails(db, clock, { all: true });
        } else clock.advance(s.minutes * 60_000);
        expect(await unmarkedUnfinished()).toEqual([]);
      }

      // Recovery: the provider accepts, staff re-queue what failed, time passes.
      capture.respondAlways({ status: 202 });
      await requeueFailedEmails(db, clock, { all: true });
      for (let round = 0; round < 4; round++) {
        clock.advance(3 * 60 * 60_000);
        await worker.drain();
      }
      const jobs = await emailModels(db).EmailJob.find().lean();
      expect(jobs.map((j) => j.status).filter((s) => s !== 'sent')).toEqual([]);
      expect(jobs.map((j) => j.idempotencyKey).sort()).toEqual(
        [...enqueued].map((k) => mail(k).idempotencyKey).sort(),
      );
      const sentTo = capture
        .accepted()
        .map((r) => r.body.personalizations[0].to[0].email as string)
        .sort();
      // Each once: the provider accepted exactly one send per email.
      expect(sentTo).toEqual([...enqueued].map((k) => mail(k).to.email).sort());
      expect(await dueModel(db).countDocuments()).toBe(0);
    }),
    { numRuns: deep(25) },
  );
}, 240_000);
