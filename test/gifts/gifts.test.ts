import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { emailModels } from '../../src/email/email.model.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { deliverDueGifts, sweepGifts } from '../../src/gifts/gift.service.js';
import { giftDepsFrom } from '../../src/gifts/gift-deps.js';
import { createLogger } from '../../src/infra/logger.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { workerAgainstCapture } from '../support/email.js';
import { startSendgridCapture } from '../support/sendgrid-capture.js';
import { postEvent, refundedGiftCharge, stripeEvent } from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
const logs = new PassThrough();
let logText = '';
logs.on('data', (chunk) => {
  logText += chunk;
});
let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
let seq = 0;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  const config = testConfig({ TIME_ZONE: 'Europe/Kyiv', GIFT_DELIVERY_HOUR: '9', LOG_LEVEL: 'info' });
  app = await startTestApp({
    config,
    deps: {
      clock,
      logger: createLogger({ level: 'info', destination: logs }),
      stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection),
    },
  });
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: 'Birthday',
    goal: 100,
    startsAt: new Date('2026-11-01T00:00:00Z'),
    endsAt: new Date('2027-01-01T00:00:00Z'),
    timeZone: 'Europe/Kyiv',
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

const gifts = () => giftDepsFrom(app.deps.config, app.deps);
const gift = async (id: string) => (await giftModel(app.deps.db).findById(id).lean())!;
const unix = () => Math.floor(clock.now().getTime() / 1000);

async function buyGift(overrides: Record<string, unknown> = {}) {
  const n = ++seq;
  const res = await fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      purchaserName: 'Olena',
      purchaserEmail: `olena${n}@example.com`,
      recipientName: 'Taras',
      recipientEmail: `taras${n}@example.com`,
      message: 'Happy birthday! <b>not bold</b>',
      durationMonths: 12,
      currency: 'eur',
      deliverOn: '2026-11-27',
      campaign: 'birthday',
      ...overrides,
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { giftId: string; url: string };
}

function paidSession(giftId: string, options: { status?: 'paid' | 'unpaid'; pi?: string } = {}) {
  return {
    id: `cs_gift_${giftId}`,
    object: 'checkout.session',
    mode: 'payment',
    payment_status: options.status ?? 'paid',
    amount_total: 5000,
    currency: 'eur',
    payment_intent: options.pi ?? `pi_gift_${giftId}`,
    customer_details: { email: 'purchaser@example.com' },
    metadata: { app: METADATA_APP, kind: 'gift', giftId },
  };
}
const pay = (giftId: string, type = 'checkout.session.completed', status: 'paid' | 'unpaid' = 'paid') =>
  postEvent(app.url, stripeEvent(type, paidSession(giftId, { status }), unix()));

async function codeFor(giftId: string): Promise<string> {
  const g = await gift(giftId);
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({
      'to.email': g.recipient.email,
      template: { $in: ['gift-delivery', 'gift-reminder'] },
    })
    .sort({ createdAt: -1, _id: -1 })
    .lean();
  return new URL(String(job!.data.redeemUrl)).searchParams.get('code')!;
}
const redeem = (code: string, email: string, ip = `10.7.${++seq % 200}.1`) =>
  fetch(`${app.url}/gifts/redeem`, {
    method: 'POST',
    headers: { 'x-forwarded-for': ip },
    body: new URLSearchParams({ code, email }),
  });

describe('purchase and payment', () => {
  it('when a gift is bought, then it waits for payment and Stripe gets a payment session marked as a gift', async () => {
    recorder.requests.length = 0;
    const { giftId, url } = await buyGift({ deliverOn: '2026-12-24' });
    expect(url).toMatch(/^https:\/\//);
    expect(await gift(giftId)).toMatchObject({
      status: 'pending_payment',
      amount: 5000,
      deliverAt: new Date('2026-12-24T07:00:00Z'),
    });
    expect(recorder.requests[0]).toMatchObject({
      path: '/v1/checkout/sessions',
      status: 200,
      params: {
        mode: 'payment',
        'metadata[kind]': 'gift',
        'metadata[giftId]': giftId,
        'line_items[0][price_data][unit_amount]': '5000',
      },
    });
  });

  it('when the payment event arrives 10 times at once, then the gift is paid once: one ledger entry, one receipt, one campaign count', async () => {
    const before = await countOf(app.deps.db, (await campaignModels(app.deps.db).Campaign.findOne().lean())!);
    const { giftId } = await buyGift({ deliverOn: '2026-12-24' });
    const event = stripeEvent('checkout.session.completed', paidSession(giftId), unix());
    const responses = await Promise.all(Array.from({ length: 10 }, () => postEvent(app.url, event)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(await gift(giftId)).toMatchObject({ status: 'paid', paymentIntentId: `pi_gift_${giftId}` });
    expect(
      await ledgerModel(app.deps.db)
        .find({ _id: `pi_gift_${giftId}` })
        .lean(),
    ).toEqual([expect.objectContaining({ kind: 'gift_purchase', amount: 5000, currency: 'eur' })]);
    const receipts = await emailModels(app.deps.db)
      .EmailJob.find({ template: 'gift-receipt', 'data.manageUrl': { $regex: giftId } })
      .lean();
    expect(receipts).toHaveLength(1);
    expect(receipts[0]!.data).toMatchObject({
      recipientName: 'Taras',
      deliverOn: '24 December 2026',
      // Stripe's receipt page for the payment (stripe-mock's charge), asked for as the payment is recorded.
      receiptUrl: expect.stringMatching(/^https:\/\/.+\/receipts\//),
    });
    const after = await countOf(app.deps.db, (await campaignModels(app.deps.db).Campaign.findOne().lean())!);
    expect(after).toBe(before + 1);
  });

  it('when the payment is delayed, then nothing happens until it succeeds, and nothing if it fails', async () => {
    const ok = await buyGift({ deliverOn: '2026-12-24' });
    await pay(ok.giftId, 'checkout.session.completed', 'unpaid');
    expect((await gift(ok.giftId)).status).toBe('pending_payment');
    await pay(ok.giftId, 'checkout.session.async_payment_succeeded');
    expect((await gift(ok.giftId)).status).toBe('paid');

    const failed = await buyGift({ deliverOn: '2026-12-24' });
    await pay(failed.giftId, 'checkout.session.completed', 'unpaid');
    await pay(failed.giftId, 'checkout.session.async_payment_failed', 'unpaid');
    expect((await gift(failed.giftId)).status).toBe('pending_payment');
  });
});

describe('delivery', () => {
  it('when the delivery day comes, then many schedulers deliver it once, at the configured local hour', async () => {
    const { giftId } = await buyGift({ deliverOn: '2026-11-30' });
    await pay(giftId);
    const run = () => Promise.all(Array.from({ length: 5 }, () => deliverDueGifts(gifts())));
    await run();
    expect((await gift(giftId)).status).toBe('paid');

    clock.set(new Date('2026-11-30T06:59:00Z')); // 08:59 in Kyiv
    await run();
    expect((await gift(giftId)).status).toBe('paid');
    clock.set(new Date('2026-11-30T07:00:00Z'));
    const counts = await run();
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(await gift(giftId)).toMatchObject({
      status: 'delivered',
      deliveredAt: new Date('2026-11-30T07:00:00Z'),
    });
    const deliveries = await emailModels(app.deps.db)
      .EmailJob.find({ template: 'gift-delivery', 'to.email': (await gift(giftId)).recipient.email })
      .lean();
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.data).toMatchObject({
      fromName: 'Olena',
      message: 'Happy birthday! <b>not bold</b>',
      durationMonths: 12,
    });
  });

  it('when the gift is for today, then it goes out as soon as it is paid', async () => {
    const { giftId } = await buyGift({ deliverOn: '2026-11-30' });
    await pay(giftId);
    expect((await gift(giftId)).status).toBe('delivered');
  });
});

describe('redemption', () => {
  async function deliveredGift(overrides: Record<string, unknown> = {}) {
    const { giftId } = await buyGift({ deliverOn: '2026-11-30', ...overrides });
    await pay(giftId);
    return { giftId, code: await codeFor(giftId), recipient: (await gift(giftId)).recipient.email };
  }

  it('when the link is opened, it shows the gift and changes nothing; never the purchaser email', async () => {
    const { giftId, code } = await deliveredGift();
    const html = await (await fetch(`${app.url}/gifts/redeem?code=${code}`)).text();
    expect(html).toContain('A 12-month membership from Olena');
    expect(html).toContain('Happy birthday! &lt;b&gt;not bold&lt;/b&gt;');
    expect(html).not.toContain((await gift(giftId)).purchaser.email);
    expect((await gift(giftId)).status).toBe('delivered');
  });

  it('when a Ukrainian reader opens the link, then the gift and its form are in Ukrainian, and the form keeps the language', async () => {
    const { code } = await deliveredGift();
    const html = await (await fetch(`${app.url}/gifts/redeem?code=${code}&locale=uk`)).text();
    expect(html).toContain('<h1>Подарунок для вас, Taras</h1>');
    expect(html).toContain('<p>Членство на 12 місяців від Olena.</p>');
    expect(html).toContain('<label for="email">Ваша електронна пошта</label>');
    expect(html).toContain('<button type="submit">Почати членство</button>');
    expect(html).toContain('<input type="hidden" name="locale" value="uk">');
  });

  it('when the purchaser opens the manage link in Ukrainian, then its labels, status, date and buttons are in Ukrainian', async () => {
    const { giftId } = await buyGift({ deliverOn: '2026-12-24' });
    await pay(giftId);
    const receipt = await emailModels(app.deps.db)
      .EmailJob.findOne({ template: 'gift-receipt', 'data.manageUrl': { $regex: giftId } })
      .lean();
    const link = new URL(String(receipt!.data.manageUrl));
    const html = await (await fetch(`${app.url}${link.pathname}${link.search}&locale=uk`)).text();
    expect(html).toContain('<h1>Ваш подарунок для Taras</h1>');
    expect(html).toContain('<dt>Стан</dt><dd data-field="status">оплачено</dd>');
    expect(html).toContain('<dt>Доставка</dt><dd>24 грудня 2026 р.</dd>');
    expect(html).toContain('<label for="recipientEmail">Електронна пошта отримувача</label>');
    expect(html).toContain('<label for="deliverOn">Дата доставки</label>');
    expect(html).toContain('value="update">Зберегти</button>');
  });

  it('when a Ukrainian reader redeems, or opens an unknown code, then the page says so in Ukrainian', async () => {
    const { code, recipient } = await deliveredGift();
    const res = await fetch(`${app.url}/gifts/redeem?locale=uk`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '10.9.0.1' },
      body: new URLSearchParams({ code, email: recipient }),
    });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Ваше членство почалося');
    expect(html).toContain('Ваше членство на 12 місяців активне');
    const unknown = await fetch(`${app.url}/gifts/redeem?code=GIFT-0000-0000-0000&locale=uk`, {
      headers: { accept: 'text/html' },
    });
    expect(unknown.status).toBe(404);
    const page = await unknown.text();
    expect(page).toContain('Ми не знайшли цей подарунок');
    expect(page).toContain('Перевірте, що ви відкрили повне посилання');
  });

  it('when a new reader redeems, then they are a gift member until now + duration, and the purchaser is told', async () => {
    const { giftId, code, recipient } = await deliveredGift();
    const res = await redeem(code, recipient);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Your membership has started');
    expect(await membershipModels(app.deps.db).Member.findOne({ email: recipient }).lean()).toMatchObject({
      status: 'active',
      source: 'gift',
      currentPeriodEnd: new Date('2027-11-30T07:00:00Z'),
    });
    expect(await gift(giftId)).toMatchObject({ status: 'redeemed' });
    expect(
      await emailModels(app.deps.db).EmailJob.countDocuments({
        template: 'gift-redeemed',
        idempotencyKey: `gift-redeemed:${giftId}`,
      }),
    ).toBe(1);
  });

  it('when a new reader redeems during a campaign, then its count does not change: the gift counted when it was paid', async () => {
    const campaign = (await campaignModels(app.deps.db).Campaign.findOne().lean())!;
    const before = await countOf(app.deps.db, campaign);
    const { code } = await deliveredGift();
    expect(await countOf(app.deps.db, campaign)).toBe(before + 1);
    expect((await redeem(code, 'counted-once@example.com')).status).toBe(200);
    expect(await countOf(app.deps.db, campaign)).toBe(before + 1);
  });

  it('when a gift member redeems another gift, then the end date moves out by its duration', async () => {
    const first = await deliveredGift({ durationMonths: 3 });
    await redeem(first.code, 'collector@example.com');
    const second = await deliveredGift({ durationMonths: 1 });
    await redeem(second.code, 'collector@example.com');
    expect(
      (await membershipModels(app.deps.db).Member.findOne({ email: 'collector@example.com' }).lean())!
        .currentPeriodEnd,
    ).toEqual(
      new Date('2027-03-28T07:00:00Z'), // 30 Nov + 3 months = 28 Feb (no 30 Feb), + 1 month = 28 Mar
    );
  });

  it('when a paying member redeems, then Stripe moves their next charge back by the duration, without proration', async () => {
    const member = await membershipModels(app.deps.db).Member.create({
      email: 'payer@example.com',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2026-01-01'),
      joinedVia: 'sub_payer',
      stripeCustomerId: 'cus_payer',
    });
    await membershipModels(app.deps.db).Subscription.create({
      _id: 'sub_payer',
      memberId: member._id,
      customerId: 'cus_payer',
      status: 'active',
      plan: 'supporter',
      interval: 'month',
      amount: 500,
      currency: 'eur',
      currentPeriodEnd: new Date('2026-12-15T00:00:00Z'),
      cancelAtPeriodEnd: false,
      lastEventCreated: 1,
      lastEventId: 'e',
    });
    const { code } = await deliveredGift({ durationMonths: 3 });
    recorder.requests.length = 0;
    expect((await redeem(code, 'payer@example.com')).status).toBe(200);
    const update = recorder.requests.find((r) => r.path === '/v1/subscriptions/sub_payer');
    expect(update).toMatchObject({
      method: 'POST',
      status: 200,
      params: { trial_end: String(Date.parse('2027-03-15T00:00:00Z') / 1000), proration_behavior: 'none' },
    });
    expect(
      (await membershipModels(app.deps.db).Member.findById(member._id).lean())!.currentPeriodEnd,
    ).toEqual(new Date('2027-03-15T00:00:00Z'));
  });

  it('when a paying member’s redeemed gift is refunded, then the months it added are taken back: Stripe bills again when it would have', async () => {
    const member = await membershipModels(app.deps.db).Member.create({
      email: 'payer-refunded@example.com',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2026-01-01'),
      joinedVia: 'sub_payer_refunded',
      stripeCustomerId: 'cus_payer_refunded',
    });
    await membershipModels(app.deps.db).Subscription.create({
      _id: 'sub_payer_refunded',
      memberId: member._id,
      customerId: 'cus_payer_refunded',
      status: 'active',
      plan: 'supporter',
      interval: 'month',
      amount: 500,
      currency: 'eur',
      currentPeriodEnd: new Date('2026-12-15T00:00:00Z'),
      cancelAtPeriodEnd: false,
      lastEventCreated: 1,
      lastEventId: 'e',
    });
    const { giftId, code } = await deliveredGift({ durationMonths: 3 });
    expect((await redeem(code, 'payer-refunded@example.com')).status).toBe(200);
    recorder.requests.length = 0;
    const refund = refundedGiftCharge(giftId);
    for (const delivery of [1, 2])
      expect(
        (await postEvent(app.url, stripeEvent('charge.refunded', refund, unix() + delivery))).status,
      ).toBe(200);

    const updates = recorder.requests.filter((r) => r.path === '/v1/subscriptions/sub_payer_refunded');
    // Once, to where the charge was before the gift: the second delivery finds the gift refunded.
    expect(updates.map((u) => u.params)).toEqual([
      { trial_end: String(Date.parse('2026-12-15T00:00:00Z') / 1000), proration_behavior: 'none' },
    ]);
    expect(
      (await membershipModels(app.deps.db).Member.findById(member._id).lean())!.currentPeriodEnd,
    ).toEqual(new Date('2026-12-15T00:00:00Z'));
    expect((await gift(giftId)).status).toBe('refunded');
  });

  it('when 50 redemptions of one code race, then exactly one wins', async () => {
    const { giftId, code } = await deliveredGift();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => redeem(code, `racer${i}@example.com`, `10.8.${i}.1`)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const winners = await membershipModels(app.deps.db).Member.countDocuments({
      email: /^racer\d+@example\.com$/,
    });
    expect(winners).toBe(1);
    expect((await gift(giftId)).status).toBe('redeemed');
  });

  it('when the code is unknown, used, expired or refunded, then each gets its own page and nothing changes', async () => {
    expect((await redeem('x'.repeat(22), 'a@example.com')).status).toBe(404);

    const used = await deliveredGift();
    await redeem(used.code, used.recipient);
    const again = await redeem(used.code, 'someone@example.com');
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('already been used');

    const refunded = await deliveredGift();
    const refund = refundedGiftCharge(refunded.giftId);
    expect((await postEvent(app.url, stripeEvent('charge.refunded', refund, unix()))).status).toBe(200);
    const cancelled = await redeem(refunded.code, refunded.recipient);
    expect(cancelled.status).toBe(410);
    expect(await cancelled.text()).toContain('was cancelled');
    expect(await membershipModels(app.deps.db).Member.countDocuments({ email: refunded.recipient })).toBe(0);
    expect(
      await ledgerModel(app.deps.db)
        .findOne({ reverses: `pi_gift_${refunded.giftId}` })
        .lean(),
    ).toMatchObject({ kind: 'refund', amount: -5000 });

    const old = await deliveredGift();
    clock.advance(366 * 86_400_000);
    const expired = await redeem(old.code, old.recipient);
    expect(expired.status).toBe(410);
    expect(await expired.text()).toContain('has expired');
    clock.advance(-366 * 86_400_000);
  });

  it('when a redeemed gift is refunded, then its membership ends at that moment and the campaign count goes back', async () => {
    const campaign = (await campaignModels(app.deps.db).Campaign.findOne().lean())!;
    const { giftId, code, recipient } = await deliveredGift();
    await redeem(code, recipient);
    const before = await countOf(app.deps.db, campaign);
    const refund = refundedGiftCharge(giftId);
    await postEvent(app.url, stripeEvent('charge.refunded', refund, unix()));
    await postEvent(app.url, stripeEvent('charge.refunded', refund, unix()));
    expect(await membershipModels(app.deps.db).Member.findOne({ email: recipient }).lean()).toMatchObject({
      status: 'expired',
      currentPeriodEnd: clock.now(),
    });
    expect((await gift(giftId)).status).toBe('refunded');
    expect(await countOf(app.deps.db, campaign)).toBe(before - 1);
  });
});

describe('reminders and expiry', () => {
  it('when a gift lies unredeemed, the recipient is reminded after 7 and 30 days, and it expires after 12 months', async () => {
    clock.set(new Date('2026-12-01T10:00:00Z'));
    const { giftId } = await buyGift({ deliverOn: '2026-12-01' });
    await pay(giftId);
    const reminders = () =>
      emailModels(app.deps.db).EmailJob.countDocuments({
        template: 'gift-reminder',
        idempotencyKey: { $regex: giftId },
      });
    clock.advance(6 * 86_400_000);
    await sweepGifts(gifts());
    expect(await reminders()).toBe(0);
    clock.advance(86_400_000);
    await Promise.all([sweepGifts(gifts()), sweepGifts(gifts())]);
    expect(await reminders()).toBe(1);
    // The reminder's link works; the original one no longer does.
    const fresh = await codeFor(giftId);
    expect((await fetch(`${app.url}/gifts/redeem?code=${fresh}`)).status).toBe(200);
    clock.advance(23 * 86_400_000);
    await sweepGifts(gifts());
    expect(await reminders()).toBe(2);
    clock.set(new Date('2027-12-01T10:00:01Z'));
    await sweepGifts(gifts());
    expect((await gift(giftId)).status).toBe('expired');
    expect(
      await emailModels(app.deps.db).EmailJob.countDocuments({
        template: 'gift-expired',
        idempotencyKey: `gift-expired:${giftId}`,
      }),
    ).toBe(1);
  });

  it('when a gift membership nears its end, the member is invited to continue; after the end it expires', async () => {
    clock.set(new Date('2027-01-10T10:00:00Z'));
    const { giftId } = await buyGift({ deliverOn: '2027-01-10', durationMonths: 1 });
    await pay(giftId);
    await redeem(await codeFor(giftId), 'ending@example.com');
    clock.set(new Date('2027-02-04T10:00:00Z'));
    await sweepGifts(gifts());
    const invite = await emailModels(app.deps.db)
      .EmailJob.findOne({ template: 'gift-ending', 'to.email': 'ending@example.com' })
      .lean();
    expect(invite!.data).toMatchObject({ endsOn: '10 February 2027' });
    expect(String(invite!.data.continueUrl)).toMatch(/\/gifts\/continue\?m=[0-9a-f]{24}&sig=/);

    recorder.requests.length = 0;
    const url = new URL(String(invite!.data.continueUrl));
    // The page offers every tier with its price in the gift's currency, monthly or yearly.
    const choices = await (await fetch(`${app.url}${url.pathname}${url.search}`)).text();
    expect(choices).toContain('value="supporter"');
    expect(choices).toContain('value="patron"');
    expect(choices).toContain('€15.00 a month or €150.00 a year');
    expect(choices).toContain('value="year"');
    const res = await fetch(`${app.url}${url.pathname}${url.search}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'plan=patron&interval=year',
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(recorder.requests[0]).toMatchObject({
      path: '/v1/checkout/sessions',
      params: {
        mode: 'subscription',
        'line_items[0][price_data][unit_amount]': '15000',
        'line_items[0][price_data][recurring][interval]': 'year',
        'metadata[plan]': 'patron',
        'subscription_data[trial_end]': String(Date.parse('2027-02-10T10:00:00Z') / 1000),
      },
    });
    // A plan that does not exist is refused, and nothing goes to Stripe.
    recorder.requests.length = 0;
    const bad = await fetch(`${app.url}${url.pathname}${url.search}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ plan: 'platinum', interval: 'year' }),
    });
    expect(bad.status).toBe(422);
    expect(recorder.requests).toEqual([]);

    clock.set(new Date('2027-02-10T10:00:01Z'));
    await sweepGifts(gifts());
    expect(
      (await membershipModels(app.deps.db).Member.findOne({ email: 'ending@example.com' }).lean())!.status,
    ).toBe('expired');
  });
});

describe('secrecy', () => {
  it('when codes travel through the app, then no log line contains one', async () => {
    clock.set(new Date('2026-11-27T12:00:00Z'));
    const { giftId } = await buyGift({ deliverOn: '2026-11-27' });
    await pay(giftId);
    const code = await codeFor(giftId);
    await fetch(`${app.url}/gifts/redeem?code=${code}`);
    await redeem(code, 'quiet@example.com');
    await new Promise((r) => setTimeout(r, 50));
    expect(logText).toContain('/gifts/redeem?code=%5Bredacted%5D');
    expect(logText).not.toContain(code);
    const stored = JSON.stringify(await gift(giftId));
    expect(stored).not.toContain(code);

    // Once the email has gone out, the outbox keeps no copy of the link either.
    const capture = await startSendgridCapture();
    await workerAgainstCapture(app.deps.db, capture, clock).drain();
    const sentToRecipient = capture
      .accepted()
      .find((r) => r.body.categories[0] === 'gift-delivery' && JSON.stringify(r.body).includes(code));
    expect(sentToRecipient).toBeDefined();
    await capture.close();
    const jobs = await emailModels(app.deps.db).EmailJob.find({ template: 'gift-delivery' }).lean();
    expect(jobs.every((j) => j.status !== 'sent' || j.data.redeemUrl === '[sent]')).toBe(true);
    expect(JSON.stringify(jobs)).not.toContain(code);
  });
});
