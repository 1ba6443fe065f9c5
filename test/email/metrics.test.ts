import { afterAll, beforeAll, expect, it } from 'vitest';
import { enqueueEmail } from '../../src/email/outbox.service.js';
import { workerAgainstCapture } from '../support/email.js';
import { type SendgridCapture, startSendgridCapture } from '../support/sendgrid-capture.js';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

let app: TestApp;
let capture: SendgridCapture;
const clock = manualClock();
const METRICS_TOKEN = 'operator-metrics-token-0123456789abcdef';

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ METRICS_TOKEN }), deps: { clock } });
  capture = await startSendgridCapture();
});
afterAll(async () => {
  await capture.close();
  await app.close();
});

async function metric(name: string): Promise<number> {
  const text = await (
    await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  ).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

it('when mail is queued, sent, retried and failed, then /metrics shows depth and counts', async () => {
  for (const key of ['a', 'b', 'c']) {
    await enqueueEmail(app.deps.db, clock, {
      template: 'member-welcome',
      to: { email: `${key}@example.com` },
      data: { planName: 'Monthly', accountUrl: 'https://members.test/account' },
      idempotencyKey: `metrics:${key}`,
    });
  }
  expect(await metric('email_outbox_jobs{status="pending"}')).toBe(3);

  // One attempt answered 503 (retried later), one 400 (failed), one 202 (sent).
  capture.respondNext({ status: 503 }, { status: 400 }, { status: 202 });
  const worker = workerAgainstCapture(app.deps.db, capture, clock, {
    metrics: app.deps.metrics,
    concurrency: 1,
  });
  await worker.drain();

  expect(await metric('email_sent_total')).toBe(1);
  expect(await metric('email_failed_total')).toBe(1);
  expect(await metric('email_retried_total')).toBe(1);
  expect(await metric('email_outbox_jobs{status="pending"}')).toBe(1);
  expect(await metric('email_outbox_jobs{status="sent"}')).toBe(1);
  expect(await metric('email_outbox_jobs{status="failed"}')).toBe(1);
});
