import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { deliverDueGifts } from '../../src/gifts/gift.service.js';
import { giftDepsFrom } from '../../src/gifts/gift-deps.js';
import { recordGiftTime, settleGiftTime } from '../../src/gifts/gift-time.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { addMonths } from '../../src/shared/time.js';
import { deep } from '../support/depth.js';
import { paidGiftSession, postEvent, refundedGiftCharge, stripeEvent } from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// A member's gift time is what their gifts add up to: gifts redeemed together all count, a refund
// takes back only its own gift, and a paid gift reaches its recipient even when a delivery failed
// half-way. Every redemption and refund goes through the real routes and webhook.

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
let seq = 0;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'Europe/Kyiv', GIFT_DELIVERY_HOUR: '9' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

/** Past the minute after which an unfinished delivery counts as abandoned. */
const A_MINUTE_LATER = 61_000;
const gifts = () => giftDepsFrom(app.deps.config, app.deps);
const gift = async (id: string) => (await giftModel(app.deps.db).findById(id).lean())!;
const member = (email: string) => membershipModels(app.deps.db).Member.findOne({ email }).lean();
const unix = () => Math.floor(clock.now().getTime() / 1000);
// The clock stays near noon UTC, which is the same calendar day in Kyiv.
const today = () => clock.now().toISOString().slice(0, 10);
const tomorrow = () => new Date(clock.now().getTime() + 86_400_000).toISOString().slice(0, 10);

async function buyGift(deliverOn = today()): Promise<string> {
  const n = ++seq;
  const res = await fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      purchaserName: 'Olena',
      purchaserEmail: `buyer${n}@example.com`,
      recipientName: 'Taras',
      recipientEmail: `recipient${n}@example.com`,
      durationMonths: 12,
      currency: 'eur',
      deliverOn,
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { giftId: string }).giftId;
}

const pay = (giftId: string) =>
  postEvent(app.url, stripeEvent('checkout.session.completed', paidGiftSession(giftId), unix()));

const refund = (giftId: string) =>
  postEvent(app.url, stripeEvent('charge.refunded', refundedGiftCharge(giftId), unix()));

const deliveryEmails = (giftId: string) =>
  emailModels(app.deps.db)
    .EmailJob.find({ idempotencyKey: `gift-delivery:${giftId}` })
    .lean();

async function codeFor(giftId: string): Promise<string> {
  const [job] = await deliveryEmails(giftId);
  return new URL(String(job!.data.redeemUrl)).searchParams.get('code')!;
}

async function deliveredGift(): Promise<{ giftId: string; code: string }> {
  const giftId = await buyGift();
  expect((await pay(giftId)).status).toBe(200);
  return { giftId, code: await codeFor(giftId) };
}

const redeem = (code: string, email: string) =>
  fetch(`${app.url}/gifts/redeem`, {
    method: 'POST',
    headers: { 'x-forwarded-for': `10.9.${++seq % 250}.${seq >> 8}` },
    body: new URLSearchParams({ code, email }),
  });

describe('gifts redeemed together', () => {
  it('when one new reader redeems several gifts at the same moment, then every request succeeds and the one member gets every gift’s months', async () => {
    for (let round = 0; round < deep(2); round++) {
      const email = `together${round}@example.com`;
      const batch = [await deliveredGift(), await deliveredGift(), await deliveredGift()];
      const answers = await Promise.all(batch.map(({ code }) => redeem(code, email)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      const members = await membershipModels(app.deps.db).Member.find({ email }).lean();
      expect(members).toHaveLength(1);
      expect(members[0]).toMatchObject({ status: 'active', currentPeriodEnd: addMonths(clock.now(), 36) });
      for (const { giftId } of batch) {
        expect(await gift(giftId)).toMatchObject({ status: 'redeemed', redeemedBy: members[0]!._id });
      }
    }
  });

  it('when any number of gifts land on one member at once, in any order, then the member’s end counts every one', async () => {
    // Below the routes: the writes of concurrent redemptions interleave at every step here.
    const { Member } = membershipModels(app.deps.db);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 2, maxLength: 8 }),
        async (months) => {
          const now = clock.now();
          const { _id } = await Member.create({
            email: `interleaved${++seq}@example.com`,
            status: 'active',
            source: 'gift',
            joinedAt: now,
            joinedVia: 'gift:test',
          });
          await Promise.all(
            months.map(async (m, i) => {
              await recordGiftTime(gifts(), _id, {
                giftId: `g${i}`,
                kind: 'grant',
                at: now,
                months: m,
                base: now,
              });
              await settleGiftTime(gifts(), _id, now);
            }),
          );
          const total = months.reduce((sum, m) => sum + m, 0);
          // The 27th of a month plus whole months is the 27th again: the sum is exact in any order.
          expect((await Member.findById(_id).lean())!.currentPeriodEnd).toEqual(addMonths(now, total));
        },
      ),
      { numRuns: deep(10) },
    );
  });
});

describe('refunds take back only their own gift', () => {
  it('when a member with two gifts has one refunded, then they keep the other gift’s year', async () => {
    const [first, second] = [await deliveredGift(), await deliveredGift()];
    expect((await redeem(first.code, 'two-gifts@example.com')).status).toBe(200);
    expect((await redeem(second.code, 'two-gifts@example.com')).status).toBe(200);
    expect(await member('two-gifts@example.com')).toMatchObject({
      currentPeriodEnd: addMonths(clock.now(), 24),
    });
    expect((await refund(second.giftId)).status).toBe(200);
    expect(await member('two-gifts@example.com')).toMatchObject({
      status: 'active',
      currentPeriodEnd: addMonths(clock.now(), 12),
      endedAt: null,
    });
    expect((await gift(second.giftId)).status).toBe('refunded');
    expect((await gift(first.giftId)).status).toBe('redeemed');
  });

  it('when a gift member has since subscribed and paid, then refunding the gift leaves them a member', async () => {
    const { giftId, code } = await deliveredGift();
    expect((await redeem(code, 'now-paying@example.com')).status).toBe(200);
    const { Member, Subscription } = membershipModels(app.deps.db);
    const joined = (await member('now-paying@example.com'))!;
    const paidUntil = new Date('2026-12-27T12:00:00Z');
    await Member.updateOne({ _id: joined._id }, { $set: { stripeCustomerId: 'cus_now_paying' } });
    await Subscription.create({
      _id: 'sub_now_paying',
      memberId: joined._id,
      customerId: 'cus_now_paying',
      status: 'active',
      plan: 'supporter',
      interval: 'month',
      amount: 500,
      currency: 'eur',
      currentPeriodEnd: paidUntil,
      cancelAtPeriodEnd: false,
      lastEventCreated: 1,
      lastEventId: 'evt_now_paying',
    });
    expect((await refund(giftId)).status).toBe(200);
    expect(await member('now-paying@example.com')).toMatchObject({ status: 'active' });
    expect((await member('now-paying@example.com'))!.endedAt ?? null).toBeNull();
    expect((await gift(giftId)).status).toBe('refunded');
  });

  it('when a member’s only gift is refunded, then their membership ends at that moment', async () => {
    const { giftId, code } = await deliveredGift();
    expect((await redeem(code, 'only-gift@example.com')).status).toBe(200);
    expect((await refund(giftId)).status).toBe(200);
    expect(await member('only-gift@example.com')).toMatchObject({
      status: 'expired',
      currentPeriodEnd: clock.now(),
      endedAt: clock.now(),
    });
  });
});

describe('delivery completes', () => {
  it('when marking a gift delivered fails once, then a scheduler round a minute later delivers it once, with a code that works', async () => {
    const giftId = await buyGift(tomorrow());
    expect((await pay(giftId)).status).toBe(200);
    clock.advance(86_400_000);
    const Gift = giftModel(app.deps.db);
    const updateOne = Gift.updateOne;
    let failures = 0;
    Gift.updateOne = ((filter: never, update: { $set?: { status?: string } }, ...rest: never[]) => {
      if (update.$set?.status === 'delivered' && failures++ === 0)
        throw new Error('connection reset (injected)');
      return updateOne.call(Gift, filter, update, ...rest);
    }) as never;
    try {
      await expect(deliverDueGifts(gifts())).rejects.toThrow('injected');
    } finally {
      Gift.updateOne = updateOne;
    }
    // While the failed delivery may still be running, another round leaves it alone.
    await deliverDueGifts(gifts());
    expect((await gift(giftId)).status).toBe('paid');
    clock.advance(A_MINUTE_LATER);
    await deliverDueGifts(gifts());
    expect((await gift(giftId)).status).toBe('delivered');
    expect(await deliveryEmails(giftId)).toHaveLength(1);
    expect((await redeem(await codeFor(giftId), 'finally@example.com')).status).toBe(200);
    expect((await gift(giftId)).status).toBe('redeemed');
  });

  it('when a delivery’s process died right after its claim, then a later round delivers the gift', async () => {
    const giftId = await buyGift(tomorrow());
    expect((await pay(giftId)).status).toBe(200);
    clock.advance(86_400_000);
    // A claim as the scheduler took it before it recorded decisions, and nothing after it.
    await app.deps.db
      .collection('claims')
      .insertOne({ _id: `gift-deliver:${giftId}` as never, claimedAt: clock.now() });
    clock.advance(A_MINUTE_LATER);
    await deliverDueGifts(gifts());
    expect((await gift(giftId)).status).toBe('delivered');
    expect(await deliveryEmails(giftId)).toHaveLength(1);
  });

  it('when a refund is under way as the gift falls due, then the recipient is never emailed its code', async () => {
    const giftId = await buyGift(tomorrow());
    expect((await pay(giftId)).status).toBe(200);
    clock.advance(86_400_000);
    // The refund has decided (its claim) but not yet written the gift's status.
    await app.deps.db.collection('claims').insertOne({
      _id: `gift-redeem:${giftId}` as never,
      claimedAt: clock.now(),
      decision: { outcome: 'refunded', at: clock.now() },
    });
    await deliverDueGifts(gifts());
    expect(await deliveryEmails(giftId)).toHaveLength(0);
    expect((await refund(giftId)).status).toBe(200);
    await deliverDueGifts(gifts());
    expect(await deliveryEmails(giftId)).toHaveLength(0);
    expect((await gift(giftId)).status).toBe('refunded');
  });
});
