import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { poolState } from '../../src/sponsorship/pool.service.js';
import { deep, seededRandom } from '../support/depth.js';
import {
  checkoutSession,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  type TestEvent,
} from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp } from '../support/test-app.js';

// Every gift checkout stores a pending gift before anyone pays. A session that ends unpaid (it
// expired, or a delayed payment failed) must leave nothing behind, and a paid one must never be
// cleaned, whatever order Stripe's events come in and however often. A session completes or
// expires, never both; after a delayed method, completed (unpaid) and async_payment_succeeded or
// _failed can come in any order.

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
let campaign: Campaign;
let seq = 0;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'winter',
      title: 'Winter drive',
      goal: 1000,
      startsAt: new Date('2026-11-01T00:00:00Z'),
      endsAt: new Date('2027-01-01T00:00:00Z'),
      timeZone: 'UTC',
    })
  ).toObject();
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

/** A gift bought on our pages: stored as pending_payment, with the session Stripe made. */
async function buyGift() {
  const n = ++seq;
  const res = await fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      purchaserName: 'Olena',
      purchaserEmail: `ended${n}@example.com`,
      recipientName: 'Taras',
      recipientEmail: `ended-to${n}@example.com`,
      durationMonths: 12,
      currency: 'eur',
      deliverOn: '2027-06-01', // later than the test: a paid gift stays `paid`
      campaign: 'winter',
    }),
  });
  expect(res.status).toBe(201);
  const { giftId } = (await res.json()) as { giftId: string };
  const gift = (await giftModel(app.deps.db).findById(giftId).lean())!;
  expect(gift.status).toBe('pending_payment');
  return { giftId, sessionId: gift.checkoutSessionId!, paymentIntent: `pi_ended_${giftId}` };
}

type Lifecycle = 'expired' | 'paid' | 'delayed_paid' | 'delayed_failed';
const PAID: Lifecycle[] = ['paid', 'delayed_paid'];

/** The events Stripe sends for a gift session that lives this lifecycle (shapes at the pinned version). */
function eventsOf(gift: Awaited<ReturnType<typeof buyGift>>, lifecycle: Lifecycle): TestEvent[] {
  const session = (status: 'complete' | 'expired', paymentStatus: 'paid' | 'unpaid') => ({
    id: gift.sessionId,
    object: 'checkout.session',
    mode: 'payment',
    status,
    payment_status: paymentStatus,
    amount_total: 5000,
    currency: 'eur',
    customer_email: `buyer@example.com`,
    // An expired payment-mode session never made a PaymentIntent; a completed one has it.
    payment_intent: status === 'expired' ? null : gift.paymentIntent,
    metadata: { app: METADATA_APP, kind: 'gift', giftId: gift.giftId, campaign: 'winter' },
  });
  switch (lifecycle) {
    case 'expired':
      return [stripeEvent('checkout.session.expired', session('expired', 'unpaid'))];
    case 'paid':
      return [stripeEvent('checkout.session.completed', session('complete', 'paid'))];
    case 'delayed_paid':
      return [
        stripeEvent('checkout.session.completed', session('complete', 'unpaid')),
        stripeEvent('checkout.session.async_payment_succeeded', session('complete', 'paid'), 1_795_000_600),
      ];
    case 'delayed_failed':
      return [
        stripeEvent('checkout.session.completed', session('complete', 'unpaid')),
        stripeEvent('checkout.session.async_payment_failed', session('complete', 'unpaid'), 1_795_000_600),
      ];
  }
}

const ledgerFor = (paymentIntent: string) =>
  ledgerModel(app.deps.db).find({ paymentIntentId: paymentIntent }).lean();

describe('a gift checkout that ends', () => {
  it('when gift sessions expire, pay, or pay late or fail late, delivered shuffled and duplicated, then only the unpaid gifts are gone and every paid one is paid once, counted once and booked to the cent', async () => {
    const lifecycles = fc.constantFrom<Lifecycle>('expired', 'paid', 'delayed_paid', 'delayed_failed');
    const scenario = fc.record({
      chosen: fc.array(lifecycles, { minLength: 2, maxLength: 4 }),
      copies: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 8, maxLength: 8 }),
      batch: fc.integer({ min: 1, max: 4 }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const bought = await Promise.all(s.chosen.map(() => buyGift()));
        const deliveries = bought.flatMap((gift, i) =>
          eventsOf(gift, s.chosen[i]!).flatMap((event, j) =>
            Array.from({ length: s.copies[(i * 2 + j) % s.copies.length]! }, () => event),
          ),
        );
        // Shuffled (Fisher-Yates from the drawn seed), then delivered `batch` at a time at once.
        const random = seededRandom(s.seed);
        const order = [...deliveries];
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const before = await countOf(app.deps.db, campaign);
        for (let i = 0; i < order.length; i += s.batch) {
          const statuses = await Promise.all(order.slice(i, i + s.batch).map((e) => postEvent(app.url, e)));
          for (const res of statuses) expect(res.status).toBe(200);
        }
        await settleStripeEvents(app);

        for (const [i, gift] of bought.entries()) {
          const stored = await giftModel(app.deps.db).findById(gift.giftId).lean();
          const entries = await ledgerFor(gift.paymentIntent);
          if (PAID.includes(s.chosen[i]!)) {
            expect(stored?.status).toBe('paid');
            expect(entries.map((e) => [e.kind, e.amount, e.currency])).toEqual([
              ['gift_purchase', 5000, 'eur'],
            ]);
          } else {
            expect(stored).toBeNull();
            expect(entries).toEqual([]);
          }
        }
        const paid = s.chosen.filter((l) => PAID.includes(l)).length;
        expect((await countOf(app.deps.db, campaign)) - before).toBe(paid);
      }),
      { numRuns: deep(6) },
    );
  });
});

describe('a membership, contribution or sponsorship checkout that expires', () => {
  it('when their sessions expire (twice each), then no member, ledger entry, pool money or gift is left behind', async () => {
    const gifts = await giftModel(app.deps.db).countDocuments();
    const membership = purchase({ email: 'expired-member@example.com' });
    const oneTime = purchase({ email: 'expired-once@example.com' });
    const sponsor = purchase({ email: 'expired-sponsor@example.com', amount: 10_000 });
    const expired = (session: Record<string, unknown>) => ({
      ...session,
      status: 'expired',
      payment_status: 'unpaid',
      payment_intent: null,
      subscription: null,
      customer: null,
    });
    const events = [
      stripeEvent('checkout.session.expired', expired(checkoutSession(membership))),
      stripeEvent('checkout.session.expired', expired(checkoutSession(oneTime, { kind: 'one_time' }))),
      stripeEvent(
        'checkout.session.expired',
        expired({
          ...checkoutSession(sponsor, { kind: 'one_time' }),
          metadata: { app: METADATA_APP, kind: 'sponsorship', campaignId: String(campaign._id) },
        }),
      ),
    ];
    for (const event of [...events, ...events]) expect((await postEvent(app.url, event)).status).toBe(200);
    await settleStripeEvents(app);

    const { Member } = membershipModels(app.deps.db);
    for (const p of [membership, oneTime, sponsor]) {
      expect(await Member.findOne({ email: p.email }).lean()).toBeNull();
      expect(await ledgerModel(app.deps.db).find({ email: p.email }).lean()).toEqual([]);
    }
    expect((await poolState(app.deps.db, String(campaign._id), 'eur', 5000)).funded).toBe(0);
    expect(await giftModel(app.deps.db).countDocuments()).toBe(gifts);
  });
});
