import type { Connection } from 'mongoose';
import Stripe from 'stripe';
import * as shapes from '../../src/dev/stripe-events.js';
import { giftDepsFrom } from '../../src/gifts/gift-deps.js';
import { dueKey } from '../../src/infra/due.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { registerModels } from '../../src/models.js';
import { replayStripeEvents } from '../../webhooks/replay.js';
import { STRIPE_EVENT_QUEUE } from '../../webhooks/stripe-event.model.js';
import { type manualClock, TEST_ENV, type TestApp, testAppAt } from './test-app.js';

// Stripe events as Stripe sends them, signed with the test endpoint secret. The shapes live in
// src/dev/stripe-events.ts (the local checkout sends the same ones); this adds test ids, a fixed
// time and signing.

const stripe = new Stripe(TEST_ENV.STRIPE_SECRET_KEY);
let seq = 0;
const nextId = (prefix: string) => `${prefix}_test${Date.now().toString(36)}${(++seq).toString(36)}`;
export const T0 = 1_795_000_000; // 2026-11-18, in Stripe's seconds

export type TestEvent = shapes.StripeEventShape;
export type Purchase = shapes.Purchase;
export const { serialize, checkoutSession, subscription, charge, dispute } = shapes;

export function stripeEvent(
  type: string,
  object: Record<string, unknown>,
  created = T0,
  id = nextId('evt'),
): TestEvent {
  return shapes.stripeEvent(type, object, created, id);
}

/** The Checkout Session of a gift bought on our pages (`giftId` from POST /gifts/checkout), paid. */
export function paidGiftSession(giftId: string, amount = 5000) {
  return {
    id: `cs_gift_${giftId}`,
    object: 'checkout.session',
    mode: 'payment',
    payment_status: 'paid',
    amount_total: amount,
    currency: 'eur',
    payment_intent: `pi_gift_${giftId}`,
    metadata: { app: METADATA_APP, kind: 'gift', giftId },
  };
}

/** The charge of paidGiftSession, refunded in full (a `charge.refunded` event's object). */
export function refundedGiftCharge(giftId: string, amount = 5000) {
  return {
    id: `ch_${giftId}`,
    object: 'charge',
    amount,
    amount_refunded: amount,
    refunded: true,
    currency: 'eur',
    payment_intent: `pi_gift_${giftId}`,
    metadata: {},
  };
}

/** `npm run stripe:replay` against this test app's database. */
export function replayOf(app: TestApp) {
  return replayStripeEvents(
    app.deps.db,
    {
      clock: app.deps.clock,
      logger: app.deps.logger,
      timeZone: 'UTC',
      publicBaseUrl: 'http://members.test',
      linkSecret: app.deps.config.session.secret,
      gifts: giftDepsFrom(app.deps.config, { ...app.deps, stripe: null }),
    },
    registerModels,
  );
}

export function signedHeaders(payload: string, options: { secret?: string; timestamp?: number } = {}) {
  return {
    'content-type': 'application/json',
    'stripe-signature': stripe.webhooks.generateTestHeaderString({
      payload,
      secret: options.secret ?? TEST_ENV.STRIPE_WEBHOOK_SECRET,
      timestamp: options.timestamp,
    }),
  };
}

/**
 * Sends an event as Stripe does. When this test file's own app stored it, the events it queued are
 * applied before this returns (what its job runner does right after answering), so the test sees
 * their effects; a failure to apply stays queued for its retry, as in production.
 */
export async function postEvent(baseUrl: string, event: TestEvent, signal?: AbortSignal) {
  const body = serialize(event);
  const res = await fetch(`${baseUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: signedHeaders(body),
    body,
    signal,
  });
  if (res.status === 200)
    await testAppAt(baseUrl)
      ?.applyStripeEvents()
      .catch(() => 0);
  return res;
}

/**
 * Delivers as Stripe does: sends again (up to 5 times, at once) while the answer is not 200, which
 * a loaded machine can cause; returns the last answer. An event answered 200 is never sent again.
 */
export async function deliverEvent(baseUrl: string, event: TestEvent) {
  for (let attempt = 1; ; attempt++) {
    const res = await postEvent(baseUrl, event);
    if (res.status === 200 || attempt === 5) return res;
    console.warn(`${event.type} answered ${res.status}: sending it again, as Stripe would`);
  }
}

/** What applying a stored event came to (`applied`, `ignored`, `pending`), or where it waits. */
export async function outcomeOf(baseUrl: string, eventId: string): Promise<string | undefined> {
  const app = testAppAt(baseUrl);
  if (!app) throw new Error(`no test app at ${baseUrl}`);
  const stored = await app.deps.db.collection('stripe_events').findOne({ _id: eventId as never });
  return stored?.status as string | undefined;
}

/**
 * Lets the next retry of a queued Stripe event come (or the end of the lease a failed attempt left
 * held) and applies what is due then, as the job runner would; returns how many were taken (0 when
 * none waits). The app's manual clock moves to that time, or with `keepClock` the waiting events
 * are made due at the present time instead (for tests that compare against the clock).
 */
export async function retryStripeEvents(app: TestApp, { keepClock = false } = {}): Promise<number> {
  const waiting = { status: { $in: ['received', 'applying'] } };
  const events = app.deps.db.collection('stripe_events');
  const next = await events.find(waiting).sort({ nextAttemptAt: 1 }).limit(1).next();
  // Received but not stored yet (still in its due marker): due now.
  if (!next) return (await notStoredYet(app)) > 0 ? app.applyStripeEvents() : 0;
  const now = app.deps.clock.now();
  if (keepClock) {
    await app.whileQueueIdle(async () => {
      await events.updateMany(waiting, { $set: { nextAttemptAt: now } });
      await app.deps.db
        .collection('job_due')
        .updateMany({ queue: 'stripe-events' }, { $set: { nextAttemptAt: now } });
    });
  } else if (next.nextAttemptAt > now) {
    const clock = app.deps.clock as Partial<ReturnType<typeof manualClock>>;
    if (!clock.set) throw new Error('retryStripeEvents needs the test app’s manual clock');
    clock.set(next.nextAttemptAt as Date);
  }
  return app.applyStripeEvents();
}

/**
 * `retryStripeEvents(app, { keepClock: true })` for one event: makes it due at the present time and
 * applies what is due. It reads and writes by primary key only, so a test that retries many events
 * does not read every stored event and marker each time (FerretDB scans any other filter).
 */
export async function retryStripeEventNow(app: TestApp, eventId: string): Promise<number> {
  const now = app.deps.clock.now();
  const db = app.deps.db;
  await app.whileQueueIdle(async () => {
    const stored = await db
      .collection('stripe_events')
      .findOne({ _id: eventId as never }, { projection: { status: 1 } });
    if (stored?.status === 'received' || stored?.status === 'applying')
      await db
        .collection('stripe_events')
        .updateOne({ _id: eventId as never }, { $set: { nextAttemptAt: now } });
    await db
      .collection('job_due')
      .updateOne({ _id: dueKey(STRIPE_EVENT_QUEUE, eventId) as never }, { $set: { nextAttemptAt: now } });
  });
  return app.applyStripeEvents();
}

/** Events received but not stored yet: they wait in a due marker that carries them (src/infra/due.ts). */
const notStoredYet = (app: TestApp) =>
  app.deps.db.collection('job_due').countDocuments({ queue: 'stripe-events', job: { $exists: true } });

/**
 * Events not applied yet, stored or not: those stored with another status, and those still in a
 * due marker (received and not stored yet, or waiting for a retry).
 */
export async function unappliedEvents(db: Connection): Promise<number> {
  const stored = await db
    .collection('stripe_events')
    .find({ status: { $ne: 'applied' } }, { projection: { _id: 1 } })
    .toArray();
  const queued = await db
    .collection('job_due')
    .find({ queue: 'stripe-events' }, { projection: { jobId: 1 } })
    .toArray();
  return new Set([...stored.map((e) => String(e._id)), ...queued.map((m) => String(m.jobId))]).size;
}

/** Retries until every stored event is done (what the job runner does over time); throws if some never are. */
export async function settleStripeEvents(app: TestApp, rounds = 200, timeBoxMs = 60_000): Promise<void> {
  // Also bounded in time, so a stuck event fails with what is stuck below, not the test's timeout.
  const deadline = Date.now() + timeBoxMs;
  let round = 0;
  for (; round < rounds && Date.now() < deadline; round++) {
    try {
      const left = await app.deps.db
        .collection('stripe_events')
        .countDocuments({ status: { $in: ['received', 'applying'] } });
      if (left + (await notStoredYet(app)) === 0) return;
      // None taken: one is held by a lease a failed attempt left behind; let that lease run out.
      if ((await retryStripeEvents(app)) === 0)
        (app.deps.clock as ReturnType<typeof manualClock>).advance(61_000);
    } catch {
      await new Promise((r) => setTimeout(r, 200)); // the database is coming back
    }
  }
  const stuck = await app.deps.db
    .collection('stripe_events')
    .find({ status: { $in: ['received', 'applying'] } })
    .toArray();
  const markers = await app.deps.db.collection('job_due').find({ queue: 'stripe-events' }).toArray();
  throw new Error(
    `stripe events still unapplied after ${round} rounds of retries: ${JSON.stringify({ stuck, markers })}`,
  );
}

export function purchase(overrides: Partial<Purchase> = {}): Purchase {
  return {
    email: `reader-${++seq}@example.com`,
    customer: nextId('cus'),
    subscription: nextId('sub'),
    session: nextId('cs'),
    paymentIntent: nextId('pi'),
    plan: 'supporter',
    interval: 'month',
    amount: 500,
    currency: 'eur',
    at: T0,
    name: 'Olena Test',
    ...overrides,
  };
}

/** An invoice with a new id each call (a renewal is another invoice), unless the test names one. */
export function invoice(p: Purchase, options: Parameters<typeof shapes.invoice>[1] = {}) {
  return shapes.invoice(p, { id: nextId('in'), ...options });
}

/** A paid invoice's `payments` list, as Stripe expands it: the purchase's PaymentIntent, paid. */
export function invoicePayments(p: Purchase) {
  return {
    object: 'list',
    data: [
      {
        id: `inpay_${p.paymentIntent}`,
        object: 'invoice_payment',
        status: 'paid',
        payment: { type: 'payment_intent', payment_intent: p.paymentIntent },
      },
    ],
  };
}

/** A subscription's first invoice, paid: Stripe's `payments` list names the purchase's PaymentIntent. */
export function firstInvoicePaid(p: Purchase) {
  return {
    ...invoice(p, { id: `in_${p.subscription}`, billingReason: 'subscription_create' }),
    payments: invoicePayments(p),
  };
}
