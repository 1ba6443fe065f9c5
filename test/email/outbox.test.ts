import type { Connection } from 'mongoose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { suppressAddress } from '../../src/email/suppression.service.js';
import { leaseModel } from '../../src/infra/leases.js';
import { workerAgainstCapture } from '../support/email.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

let db: Connection;
let capture: SendgridCapture;
let clock: ReturnType<typeof manualClock>;

beforeAll(async () => {
  db = await createTestDatabase();
  capture = await startSendgridCapture();
});
afterAll(async () => {
  await capture.close();
  await releaseTestDatabase(db);
});
beforeEach(() => {
  clock = manualClock();
});
afterEach(async () => {
  capture.reset();
  await emailModels(db).EmailJob.deleteMany({});
  await emailModels(db).Suppression.deleteMany({});
  // Leases and queue pauses (a 429's Retry-After) belong to the test that made them.
  await leaseModel(db).deleteMany({});
});

const welcome = (n: number | string, email = `reader${n}@example.com`) => ({
  template: 'member-welcome' as const,
  to: { email, name: `Reader ${n}` },
  data: { name: `Reader ${n}`, planName: 'Supporter, monthly', accountUrl: 'https://members.test/account' },
  idempotencyKey: `welcome:${n}`,
});

const job = async (jobId: string) => (await emailModels(db).EmailJob.findById(jobId).lean())!;

describe('enqueueing', () => {
  it('when an email is enqueued, then it is stored pending and the provider is not contacted', async () => {
    const { jobId, created } = await enqueueEmail(db, clock, welcome(1, '  Reader1@Example.COM '));
    expect(created).toBe(true);
    expect(capture.requests).toHaveLength(0);
    expect(await job(jobId)).toMatchObject({
      status: 'pending',
      attempts: 0,
      template: 'member-welcome',
      kind: 'transactional',
      to: { email: 'reader1@example.com', name: 'Reader 1' },
    });
  });

  it('when the same idempotency key is enqueued twice, even concurrently, then one email is sent', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => enqueueEmail(db, clock, welcome(2))));
    expect(new Set(results.map((r) => r.jobId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    await enqueueEmail(db, clock, welcome(2));
    expect(await emailModels(db).EmailJob.countDocuments()).toBe(1);

    await workerAgainstCapture(db, capture, clock).drain();
    expect(capture.accepted()).toHaveLength(1);
  });

  it('when the data does not fit the template, then enqueue throws and stores nothing', async () => {
    await expect(
      enqueueEmail(db, clock, { ...welcome(3), data: { planName: 'x', accountUrl: 'not a url' } }),
    ).rejects.toThrow();
    expect(await emailModels(db).EmailJob.countDocuments()).toBe(0);
  });
});

describe('sending', () => {
  it('when a job is sent, then SendGrid receives the exact v3 payload and the job records the message id', async () => {
    const { jobId } = await enqueueEmail(db, clock, { ...welcome(4), locale: 'uk' });
    expect(await workerAgainstCapture(db, capture, clock).drain()).toBe(1);

    const [request] = capture.accepted();
    expect(request!.headers.authorization).toBe('Bearer SG.test-key');
    const body = request!.body;
    expect(body).toEqual({
      from: { email: 'members@newsroom.example', name: 'The Newsroom' },
      subject: 'Вітаємо і дякуємо, що стали членом спільноти',
      personalizations: [{ to: [{ email: 'reader4@example.com', name: 'Reader 4' }] }],
      content: [
        { type: 'text/plain', value: expect.stringContaining('Вітаємо, Reader 4!') },
        { type: 'text/html', value: expect.stringContaining('Вітаємо, Reader 4!') },
      ],
      categories: ['member-welcome'],
      custom_args: { job_id: jobId },
      tracking_settings: { click_tracking: { enable: false, enable_text: false } },
    });
    expect(await job(jobId)).toMatchObject({
      status: 'sent',
      attempts: 1,
      providerMessageId: 'msg-1',
      sentAt: clock.now(),
    });
    expect((await job(jobId)).leaseOwner).toBeUndefined();
  });

  it('when a message belongs to a list, then it carries RFC 8058 one-click unsubscribe headers', async () => {
    await enqueueEmail(db, clock, { ...welcome(5), listUnsubscribeUrl: 'https://members.test/u/abc' });
    await workerAgainstCapture(db, capture, clock).drain();
    const body = capture.accepted()[0]!.body;
    expect(body.headers).toEqual({
      'List-Unsubscribe': '<https://members.test/u/abc>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    });
    expect(body.content[1].value).toContain('href="https://members.test/u/abc"');
  });

  it('when two workers race over 200 jobs, then every job is sent exactly once', async () => {
    const realClock = { now: () => new Date() };
    for (let i = 0; i < 200; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, k) => enqueueEmail(db, realClock, welcome(`race-${i + k}`))),
      );
    }
    const a = workerAgainstCapture(db, capture, realClock, { concurrency: 4 });
    const b = workerAgainstCapture(db, capture, realClock, { concurrency: 4 });
    const [byA, byB] = await Promise.all([a.drain(), b.drain()]);

    expect(byA + byB).toBe(200);
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    const jobIds = capture.accepted().map((r) => r.body.custom_args.job_id);
    expect(jobIds).toHaveLength(200);
    expect(new Set(jobIds).size).toBe(200);
    expect(await emailModels(db).EmailJob.countDocuments({ status: 'sent', attempts: 1 })).toBe(200);
  });
});

describe('provider failures', () => {
  it('when SendGrid answers 503 for a while, then the email goes out once after recovery, with growing delays', async () => {
    const { jobId } = await enqueueEmail(db, clock, welcome(6));
    const worker = workerAgainstCapture(db, capture, clock, { retryBaseMs: 10_000 });
    capture.respondNext(...Array.from({ length: 4 }, () => ({ status: 503 })));

    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect(await worker.runOnce()).toBe(true);
      const pending = await job(jobId);
      expect(pending).toMatchObject({ status: 'pending', attempts: attempt, lastError: 'SendGrid 503' });
      delays.push(pending.nextAttemptAt.getTime() - clock.now().getTime());
      // Not due before its time...
      clock.advance(delays.at(-1)! - 1);
      expect(await worker.runOnce()).toBe(false);
      // ...and due at it.
      clock.advance(1);
    }
    expect(await worker.runOnce()).toBe(true);

    expect(capture.requests).toHaveLength(5);
    expect(capture.accepted()).toHaveLength(1);
    expect(await job(jobId)).toMatchObject({ status: 'sent', attempts: 5 });
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1]!);
    expect(delays[0]).toBeGreaterThanOrEqual(5_000);
    expect(delays[0]).toBeLessThanOrEqual(10_000);
  });

  it('when SendGrid answers 429 with a rate-limit reset, then the next attempt is not before it', async () => {
    const { jobId } = await enqueueEmail(db, clock, welcome(7));
    const reset = Math.floor(clock.now().getTime() / 1000) + 600;
    capture.respondNext({ status: 429, headers: { 'x-ratelimit-reset': String(reset) } });
    const worker = workerAgainstCapture(db, capture, clock, { retryBaseMs: 1_000 });
    await worker.runOnce();
    expect((await job(jobId)).nextAttemptAt.getTime()).toBeGreaterThanOrEqual(reset * 1000);

    clock.set(new Date(reset * 1000 - 1000));
    expect(await worker.runOnce()).toBe(false);
    clock.set(new Date(reset * 1000));
    expect(await worker.runOnce()).toBe(true);
    expect(await job(jobId)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('when SendGrid answers 429 with Retry-After, then that many seconds pass first', async () => {
    const { jobId } = await enqueueEmail(db, clock, welcome(8));
    capture.respondNext({ status: 429, headers: { 'retry-after': '120' } });
    await workerAgainstCapture(db, capture, clock, { retryBaseMs: 1_000 }).runOnce();
    expect((await job(jobId)).nextAttemptAt.getTime() - clock.now().getTime()).toBe(120_000);
  });

  it('when SendGrid answers 400, then the job fails at once with the reason and is not retried', async () => {
    const { jobId } = await enqueueEmail(db, clock, welcome(9));
    capture.respondNext({
      status: 400,
      body: { errors: [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to' }] },
    });
    const worker = workerAgainstCapture(db, capture, clock);
    await worker.drain();
    clock.advance(24 * 60 * 60 * 1000);
    expect(await worker.drain()).toBe(0);
    expect(capture.requests).toHaveLength(1);
    expect(await job(jobId)).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: 'SendGrid 400: personalizations.0.to: Does not contain a valid address.',
    });
  });

  it('when every attempt fails, then the job is failed after the configured number of attempts', async () => {
    const { jobId } = await enqueueEmail(db, clock, welcome(10));
    capture.respondAlways({ status: 500 });
    const worker = workerAgainstCapture(db, capture, clock, { maxAttempts: 3, retryBaseMs: 1_000 });
    for (let i = 0; i < 5; i++) {
      await worker.drain();
      clock.advance(60 * 60 * 1000);
    }
    expect(capture.requests).toHaveLength(3);
    expect(await job(jobId)).toMatchObject({ status: 'failed', attempts: 3, lastError: 'SendGrid 500' });
  });

  it('when a worker dies mid-send, then after its lease expires another worker sends the job, once', async () => {
    const { jobId } = await enqueueEmail(db, clock, welcome(11));
    let connectionCut!: () => void;
    capture.respondNext({ holdUntil: new Promise<void>((resolve) => (connectionCut = resolve)) });

    const dying = workerAgainstCapture(db, capture, clock, { leaseMs: 60_000 });
    const survivor = workerAgainstCapture(db, capture, clock, { leaseMs: 60_000 });
    const dyingRun = dying.runOnce();
    await expect.poll(() => capture.requests.length).toBe(1);

    // Inside the lease nobody else may take the job.
    clock.advance(59_000);
    expect(await survivor.runOnce()).toBe(false);
    clock.advance(1_000);
    expect(await survivor.runOnce()).toBe(true);
    expect(await job(jobId)).toMatchObject({ status: 'sent', attempts: 2, providerMessageId: 'msg-1' });

    // The dead worker's connection finally drops; its late outcome must not touch the job.
    connectionCut();
    await dyingRun;
    expect(capture.accepted()).toHaveLength(1);
    expect(await job(jobId)).toMatchObject({ status: 'sent', attempts: 2, providerMessageId: 'msg-1' });
  });
});

describe('suppression', () => {
  it('when the address is suppressed, then the job is marked suppressed and nothing is sent', async () => {
    await suppressAddress(db, { email: 'Reader12@example.com', reason: 'bounce', at: clock.now() });
    const { jobId } = await enqueueEmail(db, clock, welcome(12));
    await workerAgainstCapture(db, capture, clock).drain();
    expect(capture.requests).toHaveLength(0);
    expect(await job(jobId)).toMatchObject({
      status: 'suppressed',
      lastError: 'address suppressed (bounce)',
    });
  });

  it('when a reader who unsubscribed pays, then the receipt still goes out; to a bounced address it does not', async () => {
    await suppressAddress(db, { email: 'unsub@example.com', reason: 'unsubscribe', at: clock.now() });
    await suppressAddress(db, { email: 'bounced@example.com', reason: 'bounce', at: clock.now() });
    const receipt = (email: string) => ({
      template: 'contribution-receipt' as const,
      to: { email },
      data: { amount: 2500, currency: 'EUR', paidAt: '2026-11-27T10:00:00Z', reference: `ch_${email}` },
      idempotencyKey: `receipt:${email}`,
    });
    const unsub = await enqueueEmail(db, clock, receipt('unsub@example.com'));
    const bounced = await enqueueEmail(db, clock, receipt('bounced@example.com'));
    await workerAgainstCapture(db, capture, clock).drain();

    expect((await job(unsub.jobId)).status).toBe('sent');
    expect((await job(bounced.jobId)).status).toBe('suppressed');
    expect(capture.accepted().map((r) => r.body.personalizations[0].to[0].email)).toEqual([
      'unsub@example.com',
    ]);
  });
});
