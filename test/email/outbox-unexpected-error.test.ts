import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { createSendgridSender } from '../../src/email/senders/sendgrid.sender.js';
import { workerAgainstCapture } from '../support/email.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

// Only the provider's own "no" is final. An error the sender did not expect (a bug, a library
// throwing something new) says nothing about the message: the job is tried again, never given up.

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

describe('an unexpected error from the sender', () => {
  it('when the sender throws something that is not a send failure, then the job is retried later and then sent', async () => {
    const clock = manualClock();
    const { jobId } = await enqueueEmail(db, clock, {
      template: 'member-welcome',
      to: { email: 'oops@example.com', name: 'Oops' },
      data: { name: 'Oops', planName: 'Supporter, monthly', accountUrl: 'https://members.test/account' },
      idempotencyKey: 'welcome:oops',
    });
    const real = createSendgridSender({
      apiKey: 'SG.test-key',
      baseUrl: capture.baseUrl,
      clock,
      timeoutMs: 5_000,
    });
    let calls = 0;
    const worker = workerAgainstCapture(db, capture, clock, {
      sender: {
        name: 'sendgrid',
        send: (email) => {
          if (++calls === 1)
            throw new TypeError("Cannot read properties of undefined (reading 'statusCode')");
          return real.send(email);
        },
      },
    });

    expect(await worker.drain()).toBe(1);
    const afterFirst = (await emailModels(db).EmailJob.findById(jobId).lean())!;
    expect(afterFirst.status).toBe('pending');
    expect(afterFirst.nextAttemptAt!.getTime()).toBeGreaterThan(clock.now().getTime());
    expect(capture.requests).toHaveLength(0);

    clock.advance(6 * 60 * 60_000);
    expect(await worker.drain()).toBe(1);
    expect(await emailModels(db).EmailJob.findById(jobId).lean()).toMatchObject({
      status: 'sent',
      attempts: 2,
    });
    expect(capture.accepted()).toHaveLength(1);
  });
});
