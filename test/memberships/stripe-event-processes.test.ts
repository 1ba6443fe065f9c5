import type { Connection } from 'mongoose';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { emailModels } from '../../src/email/email.model.js';
import { freePort } from '../../src/infra/embedded-db.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { stripeEventModel } from '../../webhooks/stripe-event.model.js';
import { spawnScript } from '../support/server-process.js';
import {
  checkoutSession,
  invoice,
  postEvent,
  purchase,
  stripeEvent,
  subscription,
  T0,
  unappliedEvents,
} from '../support/stripe-events.js';
import { createTestDatabase, databaseUri, releaseTestDatabase, TEST_ENV } from '../support/test-app.js';

// The webhook answers once an event is stored; applying it is the job runner's. These run the real
// processes: the web process applying its own events, and workers killed while holding one.

let db: Connection;
let env: Record<string, string>;

const createCampaign = () =>
  campaignModels(db).Campaign.create({
    slug: 'processes',
    title: 'Processes drive',
    goal: 100,
    startsAt: new Date((T0 - 86_400) * 1000),
    endsAt: new Date((T0 + 86_400) * 1000),
    timeZone: 'UTC',
    startingOffset: 0,
  });

// Each test has a database of its own: a job left by one (the first's welcome email) must not be
// what the second's doomed worker takes.
beforeEach(async () => {
  db = await createTestDatabase();
  await createCampaign();
  const stripeMock = inject('stripeMock');
  env = {
    MONGODB_URI: databaseUri(db.name),
    LOG_LEVEL: 'info',
    STRIPE_SECRET_KEY: TEST_ENV.STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET: TEST_ENV.STRIPE_WEBHOOK_SECRET,
    STRIPE_API_URL: `http://${stripeMock.host}:${stripeMock.port}`,
    JOB_LEASE_SECONDS: '2',
  };
});
afterEach(async () => {
  await releaseTestDatabase(db);
});

const membershipEvents = (p: ReturnType<typeof purchase>) => [
  stripeEvent('checkout.session.completed', checkoutSession(p), T0),
  stripeEvent('customer.subscription.created', subscription(p, 'active'), T0 + 1),
  stripeEvent('invoice.paid', invoice(p), T0 + 2),
];

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const stateOf = async (p: ReturnType<typeof purchase>) => ({
  member: (await membershipModels(db).Member.findOne({ email: p.email }).lean())?.status,
  ledger: await ledgerModel(db).countDocuments({ stripeCustomerId: p.customer }),
  welcome: await emailModels(db).EmailJob.countDocuments({ 'to.email': p.email, template: 'member-welcome' }),
  unapplied: await unappliedEvents(db),
  // Counted by the campaign's listener: the process applying the event must have it.
  counted: await campaignModels(db).Contribution.countDocuments({
    memberId: (await membershipModels(db).Member.findOne({ email: p.email }).lean())?._id,
  }),
});

describe('applying stored Stripe events in the real processes', () => {
  it('when the web process runs the job runner (EMAIL_WORKER=inline), then it applies the events it answered within moments', async () => {
    const port = await freePort();
    const web = spawnScript('src/server.ts', { ...env, PORT: String(port) });
    try {
      await web.waitForLog('"listening"');
      const p = purchase();
      for (const event of membershipEvents(p)) {
        const res = await postEvent(`http://127.0.0.1:${port}`, event);
        expect(await res.json()).toEqual({ received: true, duplicate: false, outcome: 'queued' });
      }
      const state = await eventually(
        () => stateOf(p),
        (s) => s.member === 'active' && s.welcome === 1 && s.unapplied === 0,
        5_000,
      );
      expect(state).toMatchObject({ member: 'active', welcome: 1, unapplied: 0, counted: 1 });
    } finally {
      web.child.kill('SIGTERM');
      expect(await web.exited).toBe(0);
    }
  });

  it('when the only worker dies holding an event, then the next worker applies it once its lease runs out, with one effect', async () => {
    const port = await freePort();
    const web = spawnScript('src/server.ts', { ...env, PORT: String(port), EMAIL_WORKER: 'off' });
    const p = purchase();
    try {
      await web.waitForLog('"listening"');
      for (const event of membershipEvents(p))
        expect((await postEvent(`http://127.0.0.1:${port}`, event)).status).toBe(200);
      // Stored, answered, and waiting: no process here runs the job runner.
      await new Promise((r) => setTimeout(r, 500));
      expect(await stateOf(p)).toMatchObject({ member: undefined, unapplied: 3 });

      const doomed = spawnScript('src/worker.ts', { ...env, JOB_FAULT: 'crash-after-claim' });
      await doomed.exited; // SIGKILLed by itself right after taking a job
      expect(doomed.child.signalCode).toBe('SIGKILL');
      expect(await stripeEventModel(db).countDocuments({ status: 'applying' })).toBeGreaterThan(0);

      const worker = spawnScript('src/worker.ts', env);
      const state = await eventually(
        () => stateOf(p),
        (s) => s.member === 'active' && s.welcome === 1 && s.unapplied === 0,
      );
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(state).toEqual({ member: 'active', ledger: 1, welcome: 1, unapplied: 0, counted: 1 });
    } finally {
      web.child.kill('SIGTERM');
      await web.exited;
    }
  }, 60_000);
});
