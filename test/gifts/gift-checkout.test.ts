import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giftModel } from '../../src/gifts/gift.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { postEvent, stripeEvent } from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// A purchaser's browser or an API client that retries a gift purchase (a timeout, a double click)
// must get the checkout it already has: one gift stored, one session at Stripe. The recorder plays
// Stripe's documented idempotency (the first answer to a key is kept and replayed).

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
let seq = 0;

beforeAll(async () => {
  recorder = await startStripeRecorder({ idempotency: true });
  app = await startTestApp({
    config: testConfig({ STRIPE_AUTOMATIC_TAX: 'true' }),
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

function purchase(overrides: Record<string, unknown> = {}) {
  const n = ++seq;
  return {
    purchaserName: 'Olena',
    purchaserEmail: `olena${n}@example.com`,
    recipientName: 'Taras',
    recipientEmail: `taras${n}@example.com`,
    message: 'Happy birthday',
    durationMonths: 12,
    currency: 'eur',
    deliverOn: '2026-12-24',
    ...overrides,
  };
}

const buy = (body: Record<string, unknown>, key?: string) =>
  fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });

const giftsOf = (email: string) => giftModel(app.deps.db).find({ 'purchaser.email': email }).lean();
/** What Stripe was asked for this gift's session, and how many of those made a new session. */
function sessionsAsked(giftId: string) {
  const asked = recorder.requests.filter(
    (r) => r.path === '/v1/checkout/sessions' && r.params['metadata[giftId]'] === giftId,
  );
  return { asked, created: asked.filter((r) => r.status === 200 && !r.replayed).length };
}

describe('retrying a gift purchase', () => {
  it('when a purchase is sent twice with the same Idempotency-Key, then the same gift and session come back, one gift is stored and Stripe made one session', async () => {
    const body = purchase();
    const first = await buy(body, 'gift-retry-0001');
    const again = await buy(body, 'gift-retry-0001');
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    const answer = (await first.json()) as { giftId: string; url: string };
    expect(await again.json()).toEqual(answer);
    expect(await giftsOf(body.purchaserEmail)).toHaveLength(1);
    const { asked, created } = sessionsAsked(answer.giftId);
    expect(created).toBe(1);
    expect(new Set(asked.map((r) => r.idempotencyKey))).toEqual(new Set([`gift-checkout:${answer.giftId}`]));
  });

  it('when five copies of a purchase with one Idempotency-Key arrive at once, then all get the same session, one gift is stored and Stripe made one session', async () => {
    const body = purchase();
    const answers = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const res = await buy(body, 'gift-race-0001');
        expect(res.status).toBe(201);
        return (await res.json()) as { giftId: string; url: string };
      }),
    );
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    const stored = await giftsOf(body.purchaserEmail);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ status: 'pending_payment', checkoutSessionId: expect.any(String) });
    expect(sessionsAsked(answers[0]!.giftId).created).toBe(1);
  });

  it('when the same Idempotency-Key comes with another recipient, then it is refused with 409 and nothing more is stored', async () => {
    const body = purchase();
    expect((await buy(body, 'gift-other-0001')).status).toBe(201);
    const other = await buy({ ...body, recipientEmail: 'someone-else@example.com' }, 'gift-other-0001');
    expect(other.status).toBe(409);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
    expect(await giftsOf(body.purchaserEmail)).toHaveLength(1);
  });

  it('when the same Idempotency-Key comes with another delivery day, then it is refused with 409 and the gift keeps its day', async () => {
    const body = purchase();
    expect((await buy(body, 'gift-day-0001')).status).toBe(201);
    const [before] = await giftsOf(body.purchaserEmail);
    const other = await buy({ ...body, deliverOn: '2026-12-25' }, 'gift-day-0001');
    expect(other.status).toBe(409);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
    const after = await giftsOf(body.purchaserEmail);
    expect(after).toHaveLength(1);
    expect(after[0]!.deliverAt).toEqual(before!.deliverAt);
  });

  it('when two purchases come without a key, then each is a gift and a session of its own', async () => {
    const body = purchase();
    const a = (await (await buy(body)).json()) as { giftId: string };
    const b = (await (await buy(body)).json()) as { giftId: string };
    expect(a.giftId).not.toBe(b.giftId);
    expect(await giftsOf(body.purchaserEmail)).toHaveLength(2);
  });

  it('when a purchase is retried after its checkout expired unpaid, then it is refused with 409 and no gift comes back', async () => {
    const body = purchase();
    const { giftId } = (await (await buy(body, 'gift-expired-0001')).json()) as { giftId: string };
    const gift = (await giftModel(app.deps.db).findById(giftId).lean())!;
    const expired = stripeEvent('checkout.session.expired', {
      id: gift.checkoutSessionId,
      object: 'checkout.session',
      mode: 'payment',
      status: 'expired',
      payment_status: 'unpaid',
      payment_intent: null,
      metadata: { app: 'membership-drive', kind: 'gift', giftId },
    });
    expect((await postEvent(app.url, expired)).status).toBe(200);
    expect(await giftsOf(body.purchaserEmail)).toHaveLength(0);
    const retry = await buy(body, 'gift-expired-0001');
    expect(retry.status).toBe(409);
    expect(((await retry.json()) as { error: { message: string } }).error.message).toContain(
      'ended without payment',
    );
    expect(await giftsOf(body.purchaserEmail)).toHaveLength(0);
  });
});

describe('tax', () => {
  it('when automatic tax is configured, then the gift session asks Stripe Tax for it, tax included in the price shown', async () => {
    const { giftId } = (await (await buy(purchase())).json()) as { giftId: string };
    const [sent] = sessionsAsked(giftId).asked;
    expect(sent!.params).toMatchObject({
      'automatic_tax[enabled]': 'true',
      'line_items[0][price_data][tax_behavior]': 'inclusive',
      'line_items[0][price_data][unit_amount]': '5000',
    });
  });
});
