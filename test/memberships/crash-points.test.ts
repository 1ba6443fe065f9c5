import type { Connection } from 'mongoose';
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

// The crash points are independent, so they run in lanes side by side, each lane with its own app
// and database (CRASH_LANES, default 2): writes are counted and failed per database connection.
// Between crash points a lane empties only the collections the last story wrote to.

const LANES = Number(process.env.CRASH_LANES ?? 2);
/** Counted, and failed at `failAt`: each kind of insert and update. */
const WRITES = ['insertOne', 'insertMany', 'updateOne', 'updateMany', 'findOneAndUpdate', 'bulkWrite'];
/** Also noted as touching a collection (so that a reset empties it), never failed. */
const OTHER_WRITES = ['replaceOne', 'deleteOne', 'deleteMany', 'findOneAndReplace', 'findOneAndDelete'];

interface Lane {
  app: TestApp;
  writes: number;
  failAt: number;
  touched: Set<string>;
}
const lanes = new Map<Connection, Lane>();
const originals = new Map<string, unknown>();
let proto: Record<string, unknown>;

beforeAll(async () => {
  // One after another: createTestDatabase picks a free database when it is asked.
  for (let i = 0; i < LANES; i++) {
    const app = await startTestApp();
    lanes.set(app.deps.db, { app, writes: 0, failAt: 0, touched: new Set() });
  }
  // Every model's collection shares mongoose's collection class: count (and fail) writes there.
  proto = Object.getPrototypeOf(membershipModels([...lanes.keys()][0]!).Member.collection);
  for (const name of [...WRITES, ...OTHER_WRITES]) {
    const original = proto[name] as (...args: unknown[]) => unknown;
    const counted = WRITES.includes(name);
    originals.set(name, original);
    proto[name] = function (this: { conn: Connection; collectionName: string }, ...args: unknown[]) {
      const lane = lanes.get(this.conn);
      if (lane) {
        lane.touched.add(this.collectionName);
        if (counted && ++lane.writes === lane.failAt)
          return Promise.reject(new Error(`planted failure at write ${lane.failAt}`));
      }
      return original.apply(this, args);
    };
  }
});
// Files share a worker's mongoose (isolate: false): put its class back, or the next file's writes
// meet a failure still armed here.
afterAll(async () => {
  for (const lane of lanes.values()) lane.failAt = 0;
  for (const [name, original] of originals) proto[name] = original;
  await Promise.all([...lanes.values()].map((lane) => lane.app.close()));
  lanes.clear();
});

async function story(app: TestApp) {
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

/** Empties what the last story wrote (every collection the first time) and adds the drive. */
async function reset(lane: Lane) {
  const db = lane.app.deps.db;
  const names = lane.touched.size > 0 ? [...lane.touched] : Object.keys(db.collections);
  lane.touched.clear();
  await Promise.all(names.map((name) => db.collection(name).deleteMany({})));
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

/** The story with the lane's `k`-th write failing once (0: none); how many writes it made. */
async function storyFailing(lane: Lane, k: number) {
  // The last story may have failed nothing (background work counts writes too): never fail the reset.
  lane.failAt = 0;
  await reset(lane);
  lane.writes = 0;
  lane.failAt = k;
  const state = await story(lane.app);
  return { state, writes: lane.writes };
}

it('when any one database write of a membership’s events fails, then Stripe’s resends and our retries end in the same state as no failure', async () => {
  const all = [...lanes.values()];
  const { state: expected, writes: total } = await storyFailing(all[0]!, 0);
  expect(expected).toMatchObject({
    member: { status: 'canceled' },
    subscription: 'canceled',
    ledger: 0,
    count: 0,
    unapplied: 0,
  });
  expect(expected.emails).toEqual(['member-welcome', 'membership-canceled']);
  let next = 1;
  const differing: { k: number; state: unknown }[] = [];
  const errors: unknown[] = [];
  // Each lane takes the next crash point until none is left, or one went wrong.
  const run = async (lane: Lane) => {
    while (next <= total && differing.length + errors.length === 0) {
      const k = next++;
      try {
        const { state } = await storyFailing(lane, k);
        if (JSON.stringify(state) !== JSON.stringify(expected)) differing.push({ k, state });
      } catch (error) {
        errors.push(new Error(`write ${k} of ${total} failed: ${error}`, { cause: error }));
      }
    }
  };
  await Promise.all(all.map(run));
  if (errors.length > 0) throw errors[0];
  for (const { k, state } of differing) expect(state, `write ${k} of ${total} failed`).toEqual(expected);
}, 300_000);
