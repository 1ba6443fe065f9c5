import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { STRIPE_EVENT_HANDLERS } from '../../webhooks/stripe-handlers.js';
import {
  checkoutSession,
  outcomeOf,
  postEvent,
  purchase,
  replayOf,
  signedHeaders,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Events signed with our endpoint secret that Stripe itself would not send, or would send only
// rarely: each gets a clear answer, and none is stored where it can never be applied.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    deps: {
      stripeEventHandlers: {
        ...STRIPE_EVENT_HANDLERS,
        // A handler with a bug: its outcome is not a status the queue can store.
        'test.outcome_refused': async () => ({ not: 'a status' }) as never,
      },
    },
  });
});
afterAll(() => app.close());
afterEach(async () => {
  await Promise.all(
    ['members', 'subscriptions', 'ledger', 'stripe_events', 'job_due', 'email_jobs'].map((c) =>
      app.deps.db.collection(c).deleteMany({}),
    ),
  );
});

const stored = async () =>
  (await app.deps.db.collection('stripe_events').countDocuments()) +
  (await app.deps.db.collection('job_due').countDocuments());

const postSigned = (body: string) =>
  fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers: signedHeaders(body), body });

describe('signed bodies that are not readable events', () => {
  const base = { object: 'event', created: T0, livemode: false, type: 'invoice.paid' };
  for (const [label, body] of [
    ['no id', { ...base, data: { object: { id: 'in_1' } } }],
    ['a numeric id', { ...base, id: 12, data: { object: { id: 'in_1' } } }],
    ['an id that is a query', { ...base, id: { $gt: '' }, data: { object: { id: 'in_1' } } }],
    ['no data', { ...base, id: 'evt_nodata' }],
    ['data.object null', { ...base, id: 'evt_nullobject', data: { object: null } }],
    ['no type', { ...base, type: undefined, id: 'evt_notype', data: { object: {} } }],
    ['JSON null', null],
    ['a JSON array', [1, 2]],
  ] as const) {
    it(`when the body has ${label}, then it is refused with 400 webhook_event_invalid and nothing is stored`, async () => {
      const res = await postSigned(JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('webhook_event_invalid');
      expect(await stored()).toBe(0);
    });
  }
});

describe('event types that name what every JavaScript object has', () => {
  for (const type of Object.getOwnPropertyNames(Object.prototype)) {
    it(`when an event's type is "${type}", then it is recorded as ignored and nothing is queued`, async () => {
      const event = stripeEvent(type, { id: 'obj_1' });
      const res = await postEvent(app.url, event);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: true, duplicate: false, outcome: 'ignored' });
      expect(await outcomeOf(app.url, event.id)).toBe('ignored');
      expect(await app.deps.db.collection('job_due').countDocuments()).toBe(0);
    });
  }
});

describe('metadata keys a document field may not have', () => {
  it('when a paid checkout carries metadata keys with ".", "$" and NUL, then the membership is applied, and replay reads the event as Stripe sent it', async () => {
    const p = purchase();
    const session = checkoutSession(p);
    const odd = { 'a.b': '1', $ref: 'x', 'nul\u0000key': 'y' };
    session.metadata = { ...(session.metadata as Record<string, string>), ...odd };
    const event = stripeEvent('checkout.session.completed', session);
    expect((await postEvent(app.url, event)).status).toBe(200);
    expect(await outcomeOf(app.url, event.id)).toBe('applied');
    expect(
      await postEvent(
        app.url,
        stripeEvent('customer.subscription.created', subscription(p, 'active'), T0 + 1),
      ),
    ).toHaveProperty('status', 200);
    expect(await membershipModels(app.deps.db).Member.findOne({ email: p.email }).lean()).toMatchObject({
      status: 'active',
      stripeCustomerId: p.customer,
    });

    const replay = await replayOf(app);
    expect(replay.compared.members).toBe(1);
    expect(replay.differences).toEqual([]);
  });
});

describe('a handler whose outcome cannot be stored', () => {
  it('when applying returns an outcome the model refuses, then the event fails at once, naming the error but not the value, and no lease is left', async () => {
    const event = stripeEvent('test.outcome_refused', { id: 'obj_refused' });
    expect((await postEvent(app.url, event)).status).toBe(200);
    const stored = await app.deps.db.collection('stripe_events').findOne({ _id: event.id as never });
    expect(stored).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: 'its outcome could not be stored (CastError)',
    });
    expect(stored).not.toHaveProperty('leaseOwner');
    expect(await app.deps.db.collection('job_due').countDocuments({ jobId: event.id })).toBe(0);
  });
});
