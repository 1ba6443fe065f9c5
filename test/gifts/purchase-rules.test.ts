import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itemsAtAddress } from '../../src/email/address-records.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { deliveryTime, giftPrice } from '../../src/gifts/gift-common.js';
import type { GiftDeps } from '../../src/gifts/gift-deps.js';
import { DEFAULT_GIFT_OPTIONS, loadGiftOptions } from '../../src/gifts/gift-options.js';
import {
  abandonGiftCheckout,
  createGiftCheckout,
  fulfillGiftPayment,
} from '../../src/gifts/gift-purchase.js';
import { claimOnce } from '../../src/infra/claims.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';
import { giftTestDeps } from './gift-fixtures.js';

// The purchase's rules called directly, with a scripted Checkout in Stripe's place: what a gift
// costs, what Stripe is asked for, what a retry with the same Idempotency-Key gets, and what an
// unpaid checkout leaves. The HTTP flows are in gifts.test.ts and gift-checkout.test.ts.

type Params = Stripe.Checkout.SessionCreateParams;
interface Asked {
  params: Params;
  idempotencyKey?: string;
}

/** A Checkout that answers each ask with a session (the same one for the same key, as Stripe). */
function scriptedCheckout() {
  const asked: Asked[] = [];
  const sessions = new Map<string, { id: string; url: string | null }>();
  let inFlight = 0;
  const checkout = {
    asked,
    maxInFlight: 0,
    /** Replaces the next answers: throw, hold, or answer without a URL. */
    next: null as null | ((params: Params) => Promise<{ id: string; url: string | null }>),
    checkout: {
      sessions: {
        create: async (params: Params, options?: Stripe.RequestOptions) => {
          asked.push({ params, idempotencyKey: options?.idempotencyKey });
          inFlight++;
          checkout.maxInFlight = Math.max(checkout.maxInFlight, inFlight);
          try {
            if (checkout.next) return await checkout.next(params);
            const key = options?.idempotencyKey ?? String(asked.length);
            const made = sessions.get(key) ?? {
              id: `cs_test_${asked.length}`,
              url: `https://checkout.example/${asked.length}`,
            };
            sessions.set(key, made);
            return made;
          } finally {
            inFlight--;
          }
        },
      },
    },
  };
  return checkout;
}

let db: Connection;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));

const depsWith = (checkout: ReturnType<typeof scriptedCheckout> | undefined): GiftDeps =>
  giftTestDeps(db, clock, { localCheckout: checkout });

let seq = 0;
function purchase(overrides: Record<string, unknown> = {}) {
  const n = ++seq;
  return {
    purchaser: { name: 'Olena', email: `rules-buyer${n}@example.com` },
    recipient: { name: 'Taras', email: `rules-recipient${n}@example.com` },
    message: 'Happy birthday',
    durationMonths: 3,
    currency: 'gbp',
    deliverOn: '2026-12-24',
    locale: 'en',
    showPurchaserName: true,
    campaign: 'winter-drive',
    ...overrides,
  };
}
const key = () => `rules-key-${++seq}-${Date.now()}`;
/** The gift a key names (createGiftCheckout's giftIdFor). */
const giftIdOfKey = (k: string) =>
  new Types.ObjectId(createHash('sha256').update(`gift:${k}`).digest('hex').slice(0, 24));
const problem = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('nothing was thrown');
};

describe('what a gift costs', () => {
  it('when a gift is priced, then it costs what the options give for its months and currency', () => {
    expect(giftPrice(DEFAULT_GIFT_OPTIONS, 3, 'gbp')).toBe(1300);
    expect(giftPrice(DEFAULT_GIFT_OPTIONS, 12, 'eur')).toBe(5000);
  });

  it('when no options file is configured, then gifts of 1, 3 and 12 months are offered in each currency at the default prices', () => {
    expect(loadGiftOptions(undefined)).toEqual({
      durations: [
        { months: 1, prices: { usd: 600, eur: 600, gbp: 500 } },
        { months: 3, prices: { usd: 1500, eur: 1500, gbp: 1300 } },
        { months: 12, prices: { usd: 5000, eur: 5000, gbp: 4200 } },
      ],
    });
  });

  it('when an options file is configured, then its durations and prices are offered; one offering no duration is refused', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gift-options-'));
    const file = (name: string, content: unknown) => {
      const at = path.join(dir, name);
      writeFileSync(at, JSON.stringify(content));
      return at;
    };
    const options = { durations: [{ months: 6, prices: { eur: 2800 } }] };
    expect(loadGiftOptions(file('six.json', options))).toEqual(options);
    expect(giftPrice(loadGiftOptions(file('six.json', options)), 6, 'eur')).toBe(2800);
    expect(() => loadGiftOptions(file('none.json', { durations: [] }))).toThrow();
  });

  it('when a gift of months not offered is priced, then it is refused naming the months', () => {
    expect(problem(() => giftPrice(DEFAULT_GIFT_OPTIONS, 6, 'eur'))).toMatchObject({
      code: 'validation_failed',
      status: 422,
      details: [{ path: 'durationMonths', message: 'A 6-month gift is not offered' }],
    });
  });

  it('when a gift is priced in a currency its months are not offered in, then it is refused naming the currency in capitals', () => {
    const options = { durations: [{ months: 1, prices: { eur: 600 } }] };
    for (const currency of ['gbp', 'jpy'])
      expect(problem(() => giftPrice(options, 1, currency))).toMatchObject({
        code: 'validation_failed',
        details: [{ path: 'currency', message: `Gifts are not offered in ${currency.toUpperCase()}` }],
      });
  });
});

describe('which day a gift is delivered', () => {
  const kyiv = { timeZone: 'Europe/Kyiv', deliveryHour: 9 };
  const now = new Date('2026-11-27T12:00:00Z'); // 14:00 in Kyiv

  it('when a gift is for today, then it is delivered now; for a later day, then at the delivery hour in the newsroom’s time zone', () => {
    expect(deliveryTime(kyiv, '2026-11-27', now)).toEqual(now);
    expect(deliveryTime(kyiv, '2026-11-28', now)).toEqual(new Date('2026-11-28T07:00:00Z'));
    // A year ahead is the last day offered.
    expect(deliveryTime(kyiv, '2027-11-27', now)).toEqual(new Date('2027-11-27T07:00:00Z'));
  });

  it('when a gift is for a day before today or more than a year ahead, then it is refused naming the delivery date', () => {
    for (const deliverOn of ['2026-11-26', '2027-11-28'])
      expect(
        problem(() => deliveryTime(kyiv, deliverOn, now)),
        deliverOn,
      ).toMatchObject({
        code: 'validation_failed',
        details: [{ path: 'deliverOn', message: 'Choose a delivery date from today up to a year ahead' }],
      });
  });
});

describe('what Stripe is asked for', () => {
  it('when a gift is bought, then Stripe is asked for one payment of its price, in its currency, naming the gift, its campaign and the purchaser, under the gift’s key', async () => {
    const checkout = scriptedCheckout();
    const body = purchase();
    const { giftId, url } = await createGiftCheckout(depsWith(checkout), body);
    expect(url).toBe('https://checkout.example/1');
    expect(checkout.asked).toHaveLength(1);
    const [{ params, idempotencyKey }] = checkout.asked as [Asked];
    expect(idempotencyKey).toBe(`gift-checkout:${giftId}`);
    const metadata = { app: 'membership-drive', kind: 'gift', giftId, campaign: 'winter-drive' };
    expect(params).toEqual({
      mode: 'payment',
      line_items: [
        {
          quantity: 1,
          price_data: {
            currency: 'gbp',
            unit_amount: 1300,
            product_data: { name: 'Gift membership, 3 months' },
          },
        },
      ],
      customer_email: body.purchaser.email,
      client_reference_id: giftId,
      metadata,
      payment_intent_data: { metadata },
      success_url: 'https://members.example/gifts/thanks',
      cancel_url: 'https://members.example/gifts',
    });
    expect(await giftModel(db).findById(giftId).lean()).toMatchObject({
      status: 'pending_payment',
      amount: 1300,
      currency: 'gbp',
      checkoutSessionId: 'cs_test_1',
    });
    // A reader's data export finds the gift under both addresses (docs/privacy.md).
    for (const email of [body.purchaser.email, body.recipient.email])
      expect(await itemsAtAddress(db, email)).toContainEqual({ kind: 'gift', ref: giftId });
  });

  it('when neither Stripe nor the local checkout is configured, then the purchase is refused and nothing is stored', async () => {
    const body = purchase();
    await expect(createGiftCheckout(depsWith(undefined), body)).rejects.toMatchObject({
      code: 'payments_not_configured',
    });
    expect(await giftModel(db).countDocuments({ 'purchaser.email': body.purchaser.email })).toBe(0);
  });

  it('when Stripe refuses the session, then the purchase fails and no gift is left, with a key or without', async () => {
    const checkout = scriptedCheckout();
    checkout.next = () => Promise.reject(new Error('Stripe is down'));
    for (const idempotencyKey of [undefined, key()]) {
      const body = purchase();
      await expect(createGiftCheckout(depsWith(checkout), body, { idempotencyKey })).rejects.toThrow(
        'Stripe is down',
      );
      expect(await giftModel(db).countDocuments({ 'purchaser.email': body.purchaser.email })).toBe(0);
    }
  });

  it('when Stripe answers a session without a URL, then the purchase fails naming the session', async () => {
    const checkout = scriptedCheckout();
    checkout.next = async () => ({ id: 'cs_test_nourl', url: null });
    await expect(createGiftCheckout(depsWith(checkout), purchase())).rejects.toThrow(
      'Stripe returned checkout session cs_test_nourl without a URL',
    );
  });
});

describe('retrying with the same Idempotency-Key', () => {
  it('when a retry changes any one thing the purchaser chose, then it is refused as a reused key and the gift stays as first chosen', async () => {
    const changes: Record<string, (b: ReturnType<typeof purchase>) => object> = {
      'purchaser email': (b) => ({ purchaser: { ...b.purchaser, email: 'other@example.com' } }),
      'purchaser name': (b) => ({ purchaser: { ...b.purchaser, name: 'Oksana' } }),
      'recipient email': (b) => ({ recipient: { ...b.recipient, email: 'other@example.com' } }),
      'recipient name': (b) => ({ recipient: { ...b.recipient, name: 'Petro' } }),
      message: () => ({ message: 'Another message' }),
      'shown name': () => ({ showPurchaserName: false }),
      months: () => ({ durationMonths: 12 }),
      currency: () => ({ currency: 'eur' }),
      locale: () => ({ locale: 'uk' }),
      campaign: () => ({ campaign: 'spring-drive' }),
      'no campaign': () => ({ campaign: undefined }),
      'delivery day': () => ({ deliverOn: '2026-12-25' }),
    };
    const checkout = scriptedCheckout();
    for (const [what, change] of Object.entries(changes)) {
      const body = purchase();
      const k = key();
      const { giftId } = await createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k });
      const retry = createGiftCheckout(
        depsWith(checkout),
        { ...body, ...change(body) },
        { idempotencyKey: k },
      );
      await expect(retry, what).rejects.toMatchObject({ code: 'idempotency_key_reused' });
      expect(await giftModel(db).findById(giftId).lean(), what).toMatchObject({
        purchaser: body.purchaser,
        recipient: body.recipient,
        currency: 'gbp',
        campaign: 'winter-drive',
      });
    }
    // The same choice again is the same gift, a gift for today too (delivered "now", a moment later).
    for (const deliverOn of ['2026-12-24', '2026-11-27']) {
      const body = purchase({ deliverOn });
      const k = key();
      const first = await createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k });
      clock.advance(60_000);
      expect(await createGiftCheckout(depsWith(checkout), { ...body }, { idempotencyKey: k })).toEqual(first);
    }
  });

  it('when a retry arrives after the first got its session, then it answers at once with that session', async () => {
    const checkout = scriptedCheckout();
    const body = purchase();
    const k = key();
    const first = await createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k });
    const started = Date.now();
    expect(await createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k })).toEqual(first);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('when a retry arrives while the first is still asking Stripe, then it waits for that answer instead of asking alongside, and both get the same session', async () => {
    const checkout = scriptedCheckout();
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    checkout.next = async () => {
      await held;
      return { id: 'cs_test_held', url: 'https://checkout.example/held' };
    };
    const body = purchase();
    const k = key();
    const first = createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k });
    while (checkout.asked.length === 0) await new Promise((r) => setTimeout(r, 10));
    const retry = createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k });
    await new Promise((r) => setTimeout(r, 300));
    expect(checkout.asked).toHaveLength(1);
    release();
    const answers = await Promise.all([first, retry]);
    expect(answers[1]).toEqual(answers[0]);
    expect(checkout.maxInFlight).toBe(1);
  });

  it('when a retry finds a gift its first request stored but never got a session for, then after waiting it asks Stripe itself', async () => {
    const checkout = scriptedCheckout();
    const body = purchase();
    const k = key();
    const _id = giftIdOfKey(k);
    const { deliverOn: _, ...choice } = body;
    await giftModel(db).create({
      _id,
      status: 'pending_payment',
      ...choice,
      amount: 1300,
      deliverAt: new Date('2026-12-24T07:00:00Z'),
    });
    const started = Date.now();
    const answer = await createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k });
    expect(answer.giftId).toBe(String(_id));
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    expect(checkout.asked).toHaveLength(1);
  }, 20_000);

  it('when Stripe fails on a retry of a gift that already has its session, then the gift stays for the purchaser’s next try', async () => {
    const checkout = scriptedCheckout();
    const body = purchase();
    const k = key();
    const { giftId } = await createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k });
    checkout.next = () => Promise.reject(new Error('Stripe is down'));
    await expect(createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k })).rejects.toThrow(
      'Stripe is down',
    );
    expect(await giftModel(db).findById(giftId).lean()).toMatchObject({ status: 'pending_payment' });
  });

  it('when a retry comes after the checkout ended unpaid, then it is refused and Stripe is not asked again', async () => {
    const checkout = scriptedCheckout();
    const body = purchase();
    const k = key();
    const { giftId } = await createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k });
    const gift = (await giftModel(db).findById(giftId).lean())!;
    expect(await abandonGiftCheckout(depsWith(checkout), session(giftId, gift.checkoutSessionId!))).toBe(
      'applied',
    );
    await expect(createGiftCheckout(depsWith(checkout), body, { idempotencyKey: k })).rejects.toMatchObject({
      code: 'idempotency_key_reused',
      message: expect.stringContaining('ended without payment'),
    });
    expect(checkout.asked).toHaveLength(1);
    expect(await giftModel(db).findById(giftId).lean()).toBeNull();
  });

  it('when the checkout ends unpaid while Stripe is still making its session, then the purchase is refused and that gift alone is removed', async () => {
    const other = await createGiftCheckout(depsWith(scriptedCheckout()), purchase());
    const checkout = scriptedCheckout();
    checkout.next = async (params) => {
      await claimOnce(db, `gift-abandoned:${params.client_reference_id}`, clock.now());
      return { id: 'cs_test_late', url: 'https://checkout.example/late' };
    };
    const body = purchase();
    await expect(createGiftCheckout(depsWith(checkout), body)).rejects.toMatchObject({
      message: expect.stringContaining('ended without payment'),
    });
    expect(await giftModel(db).countDocuments({ 'purchaser.email': body.purchaser.email })).toBe(0);
    expect(await giftModel(db).findById(other.giftId).lean()).not.toBeNull();
  });
});

function session(giftId: string | undefined, id: string, paymentStatus = 'unpaid'): Stripe.Checkout.Session {
  return {
    id,
    object: 'checkout.session',
    payment_status: paymentStatus,
    payment_intent: null,
    metadata: giftId === undefined ? null : { app: 'membership-drive', kind: 'gift', giftId },
  } as unknown as Stripe.Checkout.Session;
}

describe('a checkout that ends unpaid', () => {
  it('when the session names no gift, or an id that is not one, then it is ignored', async () => {
    const deps = depsWith(scriptedCheckout());
    const hex = 'a'.repeat(24);
    for (const giftId of [undefined, '', 'not-a-gift', `x${hex}`, `${hex}x`])
      expect(await abandonGiftCheckout(deps, session(giftId, 'cs_test_none')), String(giftId)).toBe(
        'ignored',
      );
  });

  it('when the gift is gone already, then the event is applied (a repeat) and nothing else changes', async () => {
    expect(
      await abandonGiftCheckout(depsWith(scriptedCheckout()), session(String(new Types.ObjectId()), 'cs_x')),
    ).toBe('applied');
  });

  it('when the session was paid, the gift is paid, or the gift waits on another session, then the gift stays', async () => {
    const checkout = scriptedCheckout();
    const deps = depsWith(checkout);
    const { giftId } = await createGiftCheckout(deps, purchase());
    const own = (await giftModel(db).findById(giftId).lean())!.checkoutSessionId!;
    expect(await abandonGiftCheckout(deps, session(giftId, own, 'paid'))).toBe('ignored');
    expect(await abandonGiftCheckout(deps, session(giftId, 'cs_test_another'))).toBe('ignored');
    await giftModel(db).updateOne({ _id: giftId }, { $set: { status: 'paid' } });
    expect(await abandonGiftCheckout(deps, session(giftId, own))).toBe('ignored');
    expect(await giftModel(db).findById(giftId).lean()).toMatchObject({ status: 'paid' });
  });

  it('when a pending gift’s own session ends unpaid, then the gift is removed', async () => {
    const deps = depsWith(scriptedCheckout());
    const { giftId } = await createGiftCheckout(deps, purchase());
    const own = (await giftModel(db).findById(giftId).lean())!.checkoutSessionId!;
    expect(await abandonGiftCheckout(deps, session(giftId, own))).toBe('applied');
    expect(await giftModel(db).findById(giftId).lean()).toBeNull();
  });
});

describe('a payment the webhook hands on', () => {
  it('when a completed session names no stored gift, then it is ignored; when it is not paid yet, then it is pending and the gift waits', async () => {
    const deps = depsWith(scriptedCheckout());
    const at = clock.now();
    expect(await fulfillGiftPayment(deps, session(undefined, 'cs_a', 'paid'), at)).toBe('ignored');
    expect(await fulfillGiftPayment(deps, session('nope', 'cs_a', 'paid'), at)).toBe('ignored');
    expect(await fulfillGiftPayment(deps, session(String(new Types.ObjectId()), 'cs_a', 'paid'), at)).toBe(
      'ignored',
    );
    const { giftId } = await createGiftCheckout(deps, purchase());
    expect(await fulfillGiftPayment(deps, session(giftId, 'cs_a'), at)).toBe('pending');
    expect(await giftModel(db).findById(giftId).lean()).toMatchObject({ status: 'pending_payment' });
  });
});
