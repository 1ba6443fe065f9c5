import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import {
  backfillGiftDue,
  backfillOpenGifts,
  giftDueModel,
  giftModel,
  giftOpenModel,
} from '../../src/gifts/gift.model.js';
import { deliverDueGifts, sweepGifts, updateGiftBeforeDelivery } from '../../src/gifts/gift.service.js';
import { giftDepsFrom } from '../../src/gifts/gift-deps.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import {
  paidGiftSession,
  postEvent,
  refundedGiftCharge,
  retryStripeEventNow,
  stripeEvent,
} from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// The per-minute delivery reads the `gift_due` list, never the gifts: on FerretDB any filter but
// `{_id}` decodes every gift ever sold (src/gifts/README.md). A paid gift is listed before it is
// marked paid, so a payment that fails half-way and is applied again is still delivered.

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

const DAY = 86_400_000;
const gifts = () => giftDepsFrom(app.deps.config, app.deps);
const gift = async (id: string) => (await giftModel(app.deps.db).findById(id).lean())!;
const unix = () => Math.floor(clock.now().getTime() / 1000);
// A day in Kyiv, `days` after the clock's (which stays near noon UTC: the same day in Kyiv).
const dayAfter = (days: number) => new Date(clock.now().getTime() + days * DAY).toISOString().slice(0, 10);
const deliveryEmails = (giftId: string) =>
  emailModels(app.deps.db).EmailJob.countDocuments({ idempotencyKey: `gift-delivery:${giftId}` });

async function buyGift(deliverOn: string): Promise<string> {
  const n = ++seq;
  const res = await fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      purchaserName: 'Olena',
      purchaserEmail: `due-buyer${n}@example.com`,
      recipientName: 'Taras',
      recipientEmail: `due-recipient${n}@example.com`,
      durationMonths: 12,
      currency: 'eur',
      deliverOn,
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { giftId: string }).giftId;
}

const paymentOf = (giftId: string) =>
  stripeEvent('checkout.session.completed', paidGiftSession(giftId), unix());

/** Runs the delivery as the scheduler does, recording every filter it sends to `gifts`. */
async function deliverWatching(filters: unknown[]): Promise<number> {
  app.deps.db.set('debug', (collection: string, _method: string, filter: unknown) => {
    if (collection === 'gifts') filters.push(filter);
  });
  try {
    return await deliverDueGifts(gifts());
  } finally {
    app.deps.db.set('debug', false);
  }
}

const exactlyById = (filter: unknown) =>
  typeof filter === 'object' &&
  filter !== null &&
  Object.keys(filter).length === 1 &&
  ((filter as { _id: unknown })._id instanceof Types.ObjectId ||
    typeof (filter as { _id: unknown })._id === 'string');

describe('the delivery list', () => {
  it('when the delivery runs at every tick for three days, then gifts are each delivered once on their day, and the delivery sends `gifts` no filter but an exact `_id`', async () => {
    // Delivered gifts from earlier: the delivery must not read them again.
    for (let i = 0; i < 3; i++)
      expect((await postEvent(app.url, paymentOf(await buyGift(dayAfter(0))))).status).toBe(200);
    const unpaid = await buyGift(dayAfter(1));
    const nextDay = await buyGift(dayAfter(1));
    const later = await buyGift(dayAfter(2));
    const movedEarlier = await buyGift(dayAfter(3));
    const movedLater = await buyGift(dayAfter(1));
    for (const id of [nextDay, later, movedEarlier, movedLater])
      expect((await postEvent(app.url, paymentOf(id))).status).toBe(200);
    await updateGiftBeforeDelivery(gifts(), movedEarlier, {
      recipientEmail: 'moved-earlier@example.com',
      deliverOn: dayAfter(1),
    });
    await updateGiftBeforeDelivery(gifts(), movedLater, {
      recipientEmail: 'moved-later@example.com',
      deliverOn: dayAfter(2),
    });
    const first = new Date('2026-11-28T07:00:00Z'); // 09:00 in Kyiv on the next day
    const second = new Date('2026-11-29T07:00:00Z');

    const filters: unknown[] = [];
    const deliveredAt = new Map<string, Date>();
    const start = clock.now();
    // Every hour for three days, and the minute after each.
    for (let t = start.getTime(); t < start.getTime() + 3 * DAY; t += 3_600_000) {
      for (const at of [t, t + 60_000]) {
        clock.set(new Date(at));
        await deliverWatching(filters);
        for (const id of [nextDay, later, movedEarlier, movedLater, unpaid])
          if (!deliveredAt.has(id) && (await gift(id)).status === 'delivered')
            deliveredAt.set(id, (await gift(id)).deliveredAt!);
      }
    }
    expect(Object.fromEntries(deliveredAt)).toEqual({
      [nextDay]: first,
      [movedEarlier]: first,
      [later]: second,
      [movedLater]: second,
    });
    for (const id of [nextDay, later, movedEarlier, movedLater]) expect(await deliveryEmails(id)).toBe(1);
    expect((await gift(unpaid)).status).toBe('pending_payment');
    expect(filters.length).toBeGreaterThan(0);
    expect(filters.filter((f) => !exactlyById(f))).toEqual([]);
    // Nothing left to do, nothing listed.
    expect(await giftDueModel(app.deps.db).countDocuments()).toBe(0);
  });
});

describe('a payment that fails half-way', () => {
  const Gift = () => giftModel(app.deps.db);
  const Due = () => giftDueModel(app.deps.db);

  /** Pays for a gift due tomorrow while `fail` rejects once; applies the payment again, as the queue does. */
  async function payThroughAFailure(install: () => () => void): Promise<string> {
    clock.set(new Date('2026-12-10T12:00:00Z'));
    const giftId = await buyGift(dayAfter(1));
    const restore = install();
    const event = paymentOf(giftId);
    try {
      expect((await postEvent(app.url, event)).status).toBe(200);
    } finally {
      restore();
    }
    await retryStripeEventNow(app, event.id);
    return giftId;
  }

  async function deliveredTomorrow(giftId: string) {
    clock.set(new Date('2026-12-11T07:00:00Z'));
    await deliverDueGifts(gifts());
    expect((await gift(giftId)).status).toBe('delivered');
    expect(await deliveryEmails(giftId)).toBe(1);
  }

  it('when marking the gift paid fails once after it was listed, then the payment applied again is delivered on its day', async () => {
    let failed = 0;
    const giftId = await payThroughAFailure(() => {
      const updateOne = Gift().updateOne;
      Gift().updateOne = ((filter: never, update: { $set?: { status?: string } }, ...rest: never[]) => {
        if (update.$set?.status === 'paid' && failed++ === 0) throw new Error('connection reset (injected)');
        return updateOne.call(Gift(), filter, update, ...rest);
      }) as never;
      return () => {
        Gift().updateOne = updateOne;
      };
    });
    expect(failed).toBeGreaterThan(0);
    await deliveredTomorrow(giftId);
  });

  it('when listing the gift for delivery fails once, then the payment applied again is delivered on its day', async () => {
    let failed = 0;
    const giftId = await payThroughAFailure(() => {
      const create = Due().create;
      Due().create = ((...args: never[]) => {
        if (failed++ === 0) return Promise.reject(new Error('connection reset (injected)'));
        return create.apply(Due(), args);
      }) as never;
      return () => {
        Due().create = create;
      };
    });
    expect(failed).toBeGreaterThan(0);
    await deliveredTomorrow(giftId);
  });
});

describe('the sweep’s list', () => {
  const emails = (giftId: string, template: string) =>
    emailModels(app.deps.db).EmailJob.countDocuments({ template, idempotencyKey: { $regex: giftId } });

  async function deliveredToday(): Promise<{ giftId: string; code: string }> {
    const giftId = await buyGift(dayAfter(0));
    expect((await postEvent(app.url, paymentOf(giftId))).status).toBe(200);
    const job = await emailModels(app.deps.db)
      .EmailJob.findOne({ idempotencyKey: `gift-delivery:${giftId}` })
      .lean();
    return { giftId, code: new URL(String(job!.data.redeemUrl)).searchParams.get('code')! };
  }

  it('when the sweep runs every day for a year, then an unredeemed gift is reminded at 7 and 30 days and expires once, a redeemed or refunded one is left alone, and the sweep sends `gifts` no filter but an exact `_id`', async () => {
    clock.set(new Date('2027-01-05T12:00:00Z'));
    const kept = await deliveredToday();
    const redeemed = await deliveredToday();
    const refunded = await deliveredToday();
    const res = await fetch(`${app.url}/gifts/redeem`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '10.31.0.1' },
      body: new URLSearchParams({ code: redeemed.code, email: 'sweep-redeemer@example.com' }),
    });
    expect(res.status).toBe(200);
    const refund = refundedGiftCharge(refunded.giftId);
    expect((await postEvent(app.url, stripeEvent('charge.refunded', refund, unix()))).status).toBe(200);

    const filters: unknown[] = [];
    const reminders = new Map<number, number>();
    for (let day = 1; day <= 370; day++) {
      clock.set(new Date(Date.parse('2027-01-05T12:00:00Z') + day * DAY));
      app.deps.db.set('debug', (collection: string, _method: string, filter: unknown) => {
        if (collection === 'gifts') filters.push(filter);
      });
      try {
        await sweepGifts(gifts());
      } finally {
        app.deps.db.set('debug', false);
      }
      const sent = await emails(kept.giftId, 'gift-reminder');
      if (!reminders.has(sent)) reminders.set(sent, day);
    }
    expect(Object.fromEntries(reminders)).toEqual({ 0: 1, 1: 7, 2: 30 });
    expect((await gift(kept.giftId)).status).toBe('expired');
    expect(await emails(kept.giftId, 'gift-expired')).toBe(1);
    for (const other of [redeemed, refunded]) expect(await emails(other.giftId, 'gift-reminder')).toBe(0);
    expect((await gift(redeemed.giftId)).status).toBe('redeemed');
    expect((await gift(refunded.giftId)).status).toBe('refunded');
    expect(filters.length).toBeGreaterThan(0);
    expect(filters.filter((f) => !exactlyById(f))).toEqual([]);
    expect(await giftOpenModel(app.deps.db).countDocuments()).toBe(0);
  });
});

describe('gifts from before the lists', () => {
  it('when gifts were paid or delivered before the lists existed, then the start-up migration lists them: the paid one is delivered on its day, the delivered one reminded', async () => {
    clock.set(new Date('2028-02-01T12:00:00Z'));
    const delivered = await buyGift(dayAfter(0));
    const paid = await buyGift(dayAfter(1));
    for (const id of [delivered, paid]) expect((await postEvent(app.url, paymentOf(id))).status).toBe(200);
    // As a version without the lists left them.
    await giftDueModel(app.deps.db).deleteMany({});
    await giftOpenModel(app.deps.db).deleteMany({});
    expect(await backfillGiftDue(app.deps.db)).toBe(1);
    expect(await backfillOpenGifts(app.deps.db)).toBeGreaterThanOrEqual(1);

    clock.set(new Date('2028-02-02T07:00:00Z'));
    await deliverDueGifts(gifts());
    expect((await gift(paid)).status).toBe('delivered');
    clock.set(new Date('2028-02-08T12:00:00Z'));
    await sweepGifts(gifts());
    expect(
      await emailModels(app.deps.db).EmailJob.countDocuments({
        idempotencyKey: `gift-reminder:${delivered}:7`,
      }),
    ).toBe(1);
  });
});
