import { afterAll, beforeAll, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { emailModels } from '../../src/email/email.model.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import {
  charge,
  checkoutSession,
  invoice,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  subscription,
  T0,
  unappliedEvents,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Every effect of one event must be completable by a retry of that event: Stripe's resend when
// storing it failed, our queue's retry when applying it did. This fails the k-th database write
// of a whole membership's story once, for every k (storing, applying, and the queue's own
// leases and markers), resends each refused event as Stripe does and lets the queue retry: the
// end state must be the same as when nothing failed.

let app: TestApp;
let writes = 0;
let failAt = 0;
const WRITES = ['insertOne', 'insertMany', 'updateOne', 'updateMany', 'findOneAndUpdate', 'bulkWrite'];

const originals = new Map<string, unknown>();
let proto: Record<string, unknown>;

beforeAll(async () => {
  app = await startTestApp();
  // Every model's collection shares mongoose's collection class: count (and fail) writes there.
  proto = Object.getPrototypeOf(membershipModels(app.deps.db).Member.collection);
  for (const name of WRITES) {
    const original = proto[name] as (...args: unknown[]) => unknown;
    originals.set(name, original);
    proto[name] = function (this: unknown, ...args: unknown[]) {
      if (++writes === failAt) return Promise.reject(new Error(`planted failure at write ${failAt}`));
      return original.apply(this, args);
    };
  }
});
// Files share a worker's mongoose (isolate: false): put its class back, or the next file's writes
// meet a failure still armed here.
afterAll(async () => {
  failAt = 0;
  for (const [name, original] of originals) proto[name] = original;
  await app.close();
});

async function story() {
  const p = purchase({ amount: 500 });
  const first = {
    ...invoice(p, { id: `in_first_${p.subscription}` }),
    billing_reason: 'subscription_create',
    status_transitions: { paid_at: T0 },
    payments: {
      object: 'list',
      data: [{ payment: { type: 'payment_intent', payment_intent: p.paymentIntent } }],
    },
  };
  const events = [
    stripeEvent('checkout.session.completed', checkoutSession(p), T0),
    stripeEvent('customer.subscription.created', subscription(p, 'active'), T0 + 1),
    stripeEvent('invoice.paid', first, T0 + 2),
    stripeEvent('charge.refunded', charge(p, { amountRefunded: 200 }), T0 + 50),
    stripeEvent('charge.refunded', charge(p, { amountRefunded: 500 }), T0 + 60),
    stripeEvent('customer.subscription.deleted', subscription(p, 'canceled'), T0 + 100),
  ];
  for (const event of events) {
    for (let attempt = 0; ; attempt++) {
      if ((await postEvent(app.url, event)).status === 200) break;
      if (attempt > 5) throw new Error(`${event.type} never accepted`);
    }
  }
  await settleStripeEvents(app);
  const db = app.deps.db;
  const member = await membershipModels(db).Member.findOne({ email: p.email }).lean();
  const ledger = await ledgerModel(db).find().lean();
  const campaign = (await campaignModels(db).Campaign.findOne().lean())!;
  return {
    member: { status: member?.status, endedAt: member?.endedAt },
    subscription: (await membershipModels(db).Subscription.findById(p.subscription).lean())?.status,
    ledger: ledger.reduce((sum, e) => sum + e.amount, 0),
    count: await countOf(db, campaign),
    emails: (await emailModels(db).EmailJob.find().lean()).map((j) => j.template).sort(),
    unapplied: await unappliedEvents(db),
  };
}

async function reset() {
  const db = app.deps.db;
  for (const name of Object.keys(db.collections)) await db.collection(name).deleteMany({});
  await campaignModels(db).Campaign.create({
    slug: 'crash',
    title: 'Crash drive',
    goal: 100,
    startsAt: new Date((T0 - 86_400) * 1000),
    endsAt: new Date((T0 + 86_400) * 1000),
    timeZone: 'UTC',
    startingOffset: 0,
  });
}

it('when any one database write of a membership’s events fails, then Stripe’s resends and our retries end in the same state as no failure', async () => {
  await reset();
  failAt = 0;
  writes = 0;
  const expected = await story();
  expect(expected).toMatchObject({
    member: { status: 'canceled' },
    subscription: 'canceled',
    ledger: 0,
    count: 0,
    unapplied: 0,
  });
  expect(expected.emails).toEqual(['member-welcome', 'membership-canceled']);
  const total = writes;
  for (let k = 1; k <= total; k++) {
    // The last story may have failed nothing (background work counts writes too): never fail the reset.
    failAt = 0;
    await reset();
    writes = 0;
    failAt = k;
    expect(await story(), `write ${k} of ${total} failed`).toEqual(expected);
  }
}, 300_000);
