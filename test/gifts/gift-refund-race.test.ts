import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { emailModels } from '../../src/email/email.model.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { REDEMPTION_FINISH_MS } from '../../src/gifts/gift.service.js';
import { jobIdFor } from '../../src/infra/due.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { findMemberByEmail } from '../../src/memberships/member-keys.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { deep, seededRandom, seedFrom } from '../support/depth.js';
import {
  outcomeOf,
  paidGiftSession,
  postEvent,
  refundedGiftCharge,
  retryStripeEventNow,
  retryStripeEvents,
  stripeEvent,
  type TestEvent,
} from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// A gift's redemption and its refund take the same claim: whatever the timing, exactly one of them
// decides, and the loser does the consistent thing. Every request goes through the real HTTP routes.

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
let campaign: Campaign;
let seq = 0;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'Europe/Kyiv' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'race',
      title: 'Race',
      goal: 1000,
      startsAt: new Date('2026-11-01T00:00:00Z'),
      endsAt: new Date('2027-01-01T00:00:00Z'),
      timeZone: 'Europe/Kyiv',
    })
  ).toObject();
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

const unix = () => Math.floor(clock.now().getTime() / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const Member = () => membershipModels(app.deps.db).Member;
const giftOf = async (id: string) => (await giftModel(app.deps.db).findById(id).lean())!;

/** A gift bought and paid, for delivery today: its id. */
async function paidGift(): Promise<string> {
  const n = ++seq;
  const res = await fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      purchaserName: 'Olena',
      purchaserEmail: `buyer${n}@example.com`,
      recipientName: 'Taras',
      recipientEmail: `to${n}@example.com`,
      durationMonths: 12,
      currency: 'eur',
      deliverOn: '2026-11-27',
      campaign: 'race',
    }),
  });
  expect(res.status).toBe(201);
  const { giftId } = (await res.json()) as { giftId: string };
  const paid = stripeEvent('checkout.session.completed', paidGiftSession(giftId), unix());
  expect((await postEvent(app.url, paid)).status).toBe(200);
  return giftId;
}

/**
 * The redemption codes from the recipients' delivery emails, each read by its job's `_id` (derived
 * from its idempotency key): a query by template would read every email job on FerretDB.
 */
async function codesFor(giftIds: string[]): Promise<Map<string, string>> {
  const { EmailJob } = emailModels(app.deps.db);
  const codes = new Map<string, string>();
  // Delivery runs with the payment's event; wait for the email should it lag.
  for (let wait = 0; wait < 100; wait++) {
    const missing = giftIds.filter((giftId) => !codes.has(giftId));
    const jobs = await Promise.all(
      missing.map((giftId) => EmailJob.findById(jobIdFor(`gift-delivery:${giftId}`)).lean()),
    );
    jobs.forEach((job, i) => {
      if (job) codes.set(missing[i]!, new URL(String(job.data.redeemUrl)).searchParams.get('code')!);
    });
    if (codes.size === giftIds.length) return codes;
    await sleep(50);
  }
  throw new Error('a paid gift was never delivered');
}

async function deliveredGift(): Promise<{ giftId: string; code: string }> {
  const giftId = await paidGift();
  return { giftId, code: (await codesFor([giftId])).get(giftId)! };
}

const fullRefund = (giftId: string) => stripeEvent('charge.refunded', refundedGiftCharge(giftId), unix());

/**
 * Sends the event, then lets the queue retry it until it is applied (a redemption may hold it up).
 * The retries come every 100 ms here, not over a day, so one that uses up its attempts on a loaded
 * machine is sent again, as staff would from the Dashboard; 200 tries in all, as before.
 */
async function deliverUntilApplied(event: TestEvent): Promise<number> {
  expect((await postEvent(app.url, event)).status).toBe(200);
  let status: string | undefined;
  for (let attempt = 1; attempt <= 200; attempt++) {
    status = await outcomeOf(app.url, event.id);
    if (status === 'applied') return attempt;
    await sleep(100);
    if (status === 'failed') expect((await postEvent(app.url, event)).status).toBe(200);
    else await retryStripeEventNow(app, event.id);
  }
  const db = app.deps.db;
  const state = {
    event: await db
      .collection('stripe_events')
      .findOne({ _id: event.id as never }, { projection: { object: 0 } }),
    markers: await db.collection('job_due').find({ jobId: event.id }).toArray(),
    leases: await db
      .collection('job_leases')
      .find({ _id: { $regex: event.id } as never })
      .toArray(),
    now: clock.now(),
  };
  throw new Error(`event ${event.id} was never applied (${status}): ${JSON.stringify(state)}`);
}

let ip = 0;
/** Each attempt from its own address: the per-IP redemption limit is not what is tested here. */
const redeem = (code: string, email: string) => {
  ip++;
  return fetch(`${app.url}/gifts/redeem`, {
    method: 'POST',
    headers: { 'x-forwarded-for': `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}` },
    body: new URLSearchParams({ code, email }),
  });
};

describe('a gift refund racing its redemption', () => {
  it('when redemptions race a full refund, 40 rounds (times TEST_DEPTH), then each round is consistent: refunded and nobody a member, or redeemed once and that membership ended', async () => {
    // Deterministic randomness, so a failing round can be replayed from the printed seed.
    const seed = seedFrom('RACE_SEED');
    const next = seededRandom(seed);
    const tally = { refundFirst: 0, redemptionFirst: 0 };
    let spreadMs = 300;
    const failures: string[] = [];

    async function round(r: number, giftId: string, code: string) {
      const readers = [0, 1].map((i) => `reader${r}-${i}@example.com`);
      // The refund starts at once, each redemption within `spreadMs`: tuned after every round so that,
      // on a fast or a loaded machine alike, some rounds go to the refund and some to a redemption.
      const redeemDelays = readers.map(() => Math.floor(next() * spreadMs));
      const [statuses] = await Promise.all([
        Promise.all(
          readers.map(async (email, i) => {
            await sleep(redeemDelays[i]!);
            return (await redeem(code, email)).status;
          }),
        ),
        deliverUntilApplied(fullRefund(giftId)),
      ]);
      const gift = await giftOf(giftId);
      // By the members' email keys (primary keys): `{email: {$in}}` would read every member.
      const members = (
        await Promise.all(readers.map((email) => findMemberByEmail(app.deps.db, email)))
      ).filter((m) => m !== null);
      const winners = statuses.flatMap((s, i) => (s === 200 ? [readers[i]!] : []));
      const problem = (what: string) =>
        failures.push(`round ${r} (seed ${seed}): ${what}; statuses ${statuses}, gift ${gift.status}`);
      if (gift.status !== 'refunded') problem('gift not refunded');
      if (members.some((m) => m.status === 'active')) problem('a member from a refunded gift is active');
      if (winners.length > 1) problem('more than one redemption won');
      if (winners.length === 1) {
        tally.redemptionFirst++;
        const member = members.find((m) => m.email === winners[0]);
        if (!member || String(member._id) !== String(gift.redeemedBy)) problem('winner is not the redeemer');
        else if (member.status !== 'expired' || member.endedAt?.getTime() !== clock.now().getTime())
          problem('the refund did not end the membership');
        if (members.length !== 1) problem('a losing redemption made a member');
        if (!statuses.every((s) => s === 200 || s === 409 || s === 410)) problem('unexpected status');
      } else {
        tally.refundFirst++;
        if (members.length > 0) problem('a redemption that lost to the refund made a member');
        if (gift.redeemedBy) problem('a refunded gift names a redeemer');
        if (!statuses.every((s) => s === 410))
          problem('a redemption after the refund was not told "cancelled"');
      }
    }

    const rounds = Number(process.env.RACE_ROUNDS ?? deep(40));
    // Rounds are independent (each its own gift, readers and refund): eight run at once, each lane
    // starting its next round as soon as its last one ends (no batch waits for its slowest round).
    // Most of a round is waiting (the redemptions' delays, the refund's retries), so this costs
    // little CPU.
    const lanes = Number(process.env.RACE_PARALLEL ?? 8);
    let started = 0;
    const startedAt = Date.now();
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (started < rounds) {
          const r = started++;
          const { giftId, code } = await deliveredGift();
          const refundsBefore = tally.refundFirst;
          await round(r, giftId, code);
          // After every round, not every batch, so that a short run finds the spread where both
          // orders happen: a redemption that won widens it, a refund that won narrows it.
          spreadMs =
            tally.refundFirst > refundsBefore
              ? Math.max(spreadMs / 1.2, 10)
              : Math.min(spreadMs * 1.2, 3_000);
          if (process.env.RACE_TIMING)
            console.log(`round ${r}: ${Date.now() - startedAt} ms`, tally, Math.round(spreadMs));
        }
      }),
    );
    expect(failures).toEqual([]);
    // Both orders happened, so the race was really run both ways.
    expect(tally.refundFirst, `seed ${seed}`).toBeGreaterThan(0);
    expect(tally.redemptionFirst, `seed ${seed}`).toBeGreaterThan(0);
    // Every gift was counted when paid and taken back when refunded; no recipient counted on top.
    expect(await countOf(app.deps.db, campaign)).toBe(0);
  }, 900_000);

  it('when the redemption stops after its claim (its process dies), then the refund waits, finishes it once it is abandoned, and ends it', async () => {
    const { giftId, code } = await deliveredGift();
    let failNext = true;
    app.deps.events.on('member.joined', () => {
      if (failNext) {
        failNext = false;
        throw new Error('database went away');
      }
    });
    expect((await redeem(code, 'halfway@example.com')).status).toBe(500);
    expect((await giftOf(giftId)).status).toBe('delivered');

    const refund = fullRefund(giftId);
    const refundedAt = clock.now();
    expect((await postEvent(app.url, refund)).status).toBe(200);
    expect(await outcomeOf(app.url, refund.id)).toBe('received'); // the redemption might still be running
    clock.advance(REDEMPTION_FINISH_MS);
    expect(await retryStripeEvents(app)).toBe(1);
    expect(await outcomeOf(app.url, refund.id)).toBe('applied');
    const gift = await giftOf(giftId);
    const member = await Member().findOne({ email: 'halfway@example.com' }).lean();
    expect(gift).toMatchObject({ status: 'refunded', redeemedBy: member!._id });
    expect(member).toMatchObject({ status: 'expired', endedAt: refundedAt });
    // The redemption it finished told the purchaser, once.
    expect(
      await emailModels(app.deps.db).EmailJob.countDocuments({ idempotencyKey: `gift-redeemed:${giftId}` }),
    ).toBe(1);
    // And the code is spent: a new attempt hears the gift was cancelled.
    expect((await redeem(code, 'someone-else@example.com')).status).toBe(410);
  });

  it('when a redemption stops after its claim and the reader tries again later, then the retry finishes it', async () => {
    const { giftId, code } = await deliveredGift();
    let failNext = true;
    app.deps.events.on('member.joined', () => {
      if (failNext) {
        failNext = false;
        throw new Error('database went away');
      }
    });
    expect((await redeem(code, 'retry@example.com')).status).toBe(500);
    clock.advance(REDEMPTION_FINISH_MS);
    const again = await redeem(code, 'retry@example.com');
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('Your membership has started');
    const member = await Member().findOne({ email: 'retry@example.com' }).lean();
    expect(member).toMatchObject({ status: 'active', source: 'gift' });
    expect(await giftOf(giftId)).toMatchObject({ status: 'redeemed', redeemedBy: member!._id });
    expect((await redeem(code, 'retry@example.com')).status).toBe(409);
  });
});
