import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { workerAgainstCapture } from '../support/email.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

// A worker whose lease ran out is not the job's owner any more: whatever it learns late about its
// attempt must not overwrite what the worker now holding the job does.

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

describe('a late outcome from a worker that lost its lease', () => {
  it('when a dead worker hears back while another worker holds the job, then its outcome is ignored and the email goes out once', async () => {
    const clock = manualClock();
    const { jobId } = await enqueueEmail(db, clock, {
      template: 'member-welcome',
      to: { email: 'late@example.com', name: 'Late' },
      data: { name: 'Late', planName: 'Supporter, monthly', accountUrl: 'https://members.test/account' },
      idempotencyKey: 'welcome:late',
    });
    let dropFirst!: () => void;
    let answerSecond!: () => void;
    capture.respondNext(
      { holdUntil: new Promise<void>((resolve) => (dropFirst = resolve)) },
      { holdUntil: new Promise<void>((resolve) => (answerSecond = resolve)), after: { status: 202 } },
    );
    const dead = workerAgainstCapture(db, capture, clock, { leaseMs: 60_000 });
    const holder = workerAgainstCapture(db, capture, clock, { leaseMs: 60_000 });

    const deadRun = dead.runOnce();
    await expect.poll(() => capture.requests.length).toBe(1);
    clock.advance(60_000); // the first worker's lease runs out; the second takes the job
    const holderRun = holder.runOnce();
    await expect.poll(() => capture.requests.length).toBe(2);

    dropFirst(); // the dead worker's connection fails now, while the job is the second worker's
    await deadRun;
    answerSecond(); // SendGrid accepts the second worker's attempt
    await holderRun;

    expect(await emailModels(db).EmailJob.findById(jobId).lean()).toMatchObject({
      status: 'sent',
      providerMessageId: 'msg-1',
    });
    // Nothing is left to send: hours later no worker sends it again.
    clock.advance(6 * 60 * 60_000);
    await workerAgainstCapture(db, capture, clock).drain();
    expect(capture.accepted()).toHaveLength(1);
    expect(capture.requests).toHaveLength(2);
  });
});
