import { afterAll, beforeAll, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { newsletterModels } from '../../src/newsletters/newsletter.model.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';

// A confirmation click that fails half-way (the database blinks) must not leave the reader
// "already confirmed" with the list still pending: clicking again finishes it.

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
});
afterAll(() => app.close());

const json = { 'content-type': 'application/json', accept: 'application/json' };

it('when the first click fails while confirming, then a second click confirms the list, records consent and welcomes the reader once', async () => {
  const email = 'blink@example.com';
  const signUp = await fetch(`${app.url}/newsletters/subscriptions`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, lists: ['editors-picks'] }),
  });
  expect(signUp.status).toBe(202);
  const { EmailJob } = emailModels(app.deps.db);
  const job = (await EmailJob.findOne({ 'to.email': email, template: 'newsletter-confirmation' }).lean())!;
  const token = new URL(String(job.data.confirmUrl)).searchParams.get('token')!;

  const { Subscription, Consent } = newsletterModels(app.deps.db);
  const updateOne = Subscription.updateOne.bind(Subscription);
  let failures = 0;
  // The write that confirms the list fails once, as a dropped connection would.
  (Subscription as unknown as { updateOne: unknown }).updateOne = (...args: Parameters<typeof updateOne>) => {
    const set = (args[1] as { $set?: { status?: string } } | undefined)?.$set;
    if (set?.status === 'confirmed' && failures++ === 0) throw new Error('connection reset');
    return updateOne(...args);
  };
  const click = () =>
    fetch(`${app.url}/newsletters/confirm`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ token }),
    });
  try {
    expect((await click()).status).toBe(500);
    clock.advance(30_000); // the reader sees the error and clicks again
    expect((await click()).status).toBeLessThan(300);
  } finally {
    (Subscription as unknown as { updateOne: unknown }).updateOne = updateOne;
  }
  expect((await Subscription.findById(`editors-picks:${email}`).lean())?.status).toBe('confirmed');
  expect(await Consent.countDocuments({ email, action: 'confirmed' })).toBe(1);
  expect(await EmailJob.countDocuments({ 'to.email': email, template: 'newsletter-welcome' })).toBe(1);
  // And a third click only says so.
  clock.advance(30_000);
  expect((await click()).status).toBeLessThan(300);
  expect(await EmailJob.countDocuments({ 'to.email': email, template: 'newsletter-welcome' })).toBe(1);
});
