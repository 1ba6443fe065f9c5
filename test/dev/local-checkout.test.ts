import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// Development without a Stripe key: checkout goes to the local payment page, whose "Pay" posts
// signed Stripe events through the real /webhooks/stripe.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    config: testConfig({
      NODE_ENV: 'development',
      STRIPE_SECRET_KEY: undefined,
      STRIPE_WEBHOOK_SECRET: undefined,
      LOG_LEVEL: 'silent',
    }),
    deps: { stripe: null, clock: { now: () => new Date() } },
  });
});
afterAll(() => app?.close());

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields),
  redirect: 'manual' as const,
});

/** Starts a checkout as the hosted form does; answers the local payment page's path. */
async function startCheckout(path: string, fields: Record<string, string>): Promise<string> {
  const res = await fetch(`${app.url}${path}`, form(fields));
  expect(res.status).toBe(303);
  const location = new URL(res.headers.get('location')!);
  expect(location.pathname).toMatch(/^\/dev\/checkout\/cs_local_[0-9a-f]{24}$/);
  return location.pathname;
}

/** Pays on the local page; the events it sends are applied before this returns (see applyStripeEvents). */
const pay = async (page: string, fields: Record<string, string>) => {
  const res = await fetch(`${app.url}${page}`, form(fields));
  await app.applyStripeEvents();
  return res;
};

describe('the local checkout', () => {
  it('when a membership is paid twice on the local page, then one member, one subscription and one ledger entry exist', async () => {
    const page = await startCheckout('/memberships/checkout', {
      kind: 'membership',
      plan: 'supporter',
      interval: 'year',
      currency: 'eur',
      email: 'local@example.com',
    });
    const html = await (await fetch(`${app.url}${page}`)).text();
    expect(html).toContain('Supporter membership');
    expect(html).toContain('value="local@example.com"');

    for (let i = 0; i < 2; i++) {
      const res = await pay(page, { email: 'local@example.com', name: 'Local Reader', outcome: 'paid' });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toMatch(/\/membership\/thanks\?session_id=cs_local_/);
    }
    const { Member, Subscription } = membershipModels(app.deps.db);
    const member = await Member.findOne({ email: 'local@example.com' }).lean();
    expect(member).toMatchObject({ status: 'active', name: 'Local Reader', source: 'checkout' });
    expect(await Subscription.find({ memberId: member!._id }).lean()).toEqual([
      expect.objectContaining({ status: 'active', plan: 'supporter', interval: 'year', currency: 'eur' }),
    ]);
    const entries = await ledgerModel(app.deps.db).find({ email: 'local@example.com' }).lean();
    expect(entries.map((e) => [e.kind, e.amount, e.billingReason])).toEqual([
      ['subscription_payment', 5000, 'subscription_create'],
    ]);
    const welcome = await emailModels(app.deps.db)
      .EmailJob.find({ template: 'member-welcome', 'to.email': 'local@example.com' })
      .lean();
    expect(welcome).toHaveLength(1);
  });

  it('when a membership is started in dollars, then the local payment page shows the price as the membership page does', async () => {
    const form = await (await fetch(`${app.url}/membership?currency=usd`)).text();
    expect(form).toContain('US$5.00');
    const page = await startCheckout('/memberships/checkout', {
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'usd',
      email: 'dollars@example.com',
    });
    const html = await (await fetch(`${app.url}${page}`)).text();
    expect(html).toContain('US$5.00 per month');
    expect(html).not.toMatch(/[^S]\$5\.00/);
  });

  it('when a gift is paid on the local page, then the gift is paid, recorded in the ledger and the purchaser gets a receipt', async () => {
    const deliverOn = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const page = await startCheckout('/gifts/checkout', {
      purchaserName: 'Ann',
      purchaserEmail: 'ann@example.com',
      recipientName: 'Bo',
      recipientEmail: 'bo@example.com',
      durationMonths: '3',
      currency: 'eur',
      deliverOn,
    });
    expect((await pay(page, { email: 'ann@example.com', outcome: 'paid' })).status).toBe(303);
    const gift = await giftModel(app.deps.db).findOne({ 'purchaser.email': 'ann@example.com' }).lean();
    expect(gift?.status).toBe('paid');
    const entry = await ledgerModel(app.deps.db).findOne({ email: 'ann@example.com' }).lean();
    expect(entry).toMatchObject({ kind: 'gift_purchase', amount: gift!.amount, currency: 'eur' });
    expect(
      await emailModels(app.deps.db).EmailJob.countDocuments({
        template: 'gift-receipt',
        'to.email': 'ann@example.com',
      }),
    ).toBe(1);
  });

  it('when the delayed payment fails, then nothing is granted', async () => {
    const page = await startCheckout('/memberships/checkout', {
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'eur',
      email: 'delayed@example.com',
    });
    expect((await pay(page, { email: 'delayed@example.com', outcome: 'delayed_then_failed' })).status).toBe(
      303,
    );
    expect(await membershipModels(app.deps.db).Member.countDocuments({ email: 'delayed@example.com' })).toBe(
      0,
    );
    expect(await ledgerModel(app.deps.db).countDocuments({ email: 'delayed@example.com' })).toBe(0);
    const stored = await app.deps.db
      .collection('stripe_events')
      .find({ _id: { $regex: `^evt_local_${page.slice(-24)}` } } as never)
      .toArray();
    expect(stored.map((e) => e.type).sort()).toEqual([
      'checkout.session.async_payment_failed',
      'checkout.session.completed',
    ]);
  });

  it('when the email on the payment page is not an email, then the page shows the problem and nothing is sent', async () => {
    const page = await startCheckout('/memberships/checkout', {
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'eur',
      email: 'typo@example.com',
    });
    const res = await pay(page, { email: 'typo@', outcome: 'paid' });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('Please enter a correct email address');
    expect(
      await app.deps.db
        .collection('stripe_events')
        .countDocuments({ _id: { $regex: page.slice(-24) } } as never),
    ).toBe(0);
  });
});

describe('the webhook beside the local checkout', () => {
  it('when an event is signed with another secret, then it is refused with 400 and nothing is stored', async () => {
    // A verified event is queued in a due marker before it is stored: count both.
    const stored = async () =>
      (await app.deps.db.collection('stripe_events').countDocuments()) +
      (await app.deps.db.collection('job_due').countDocuments());
    const before = await stored();
    const payload = JSON.stringify({
      id: 'evt_forged',
      type: 'checkout.session.completed',
      data: { object: {} },
    });
    const res = await fetch(`${app.url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({
          payload,
          secret: 'whsec_someone_else',
        }),
      },
      body: payload,
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('webhook_signature_invalid');
    expect(await stored()).toBe(before);
  });
});

describe('outside development', () => {
  it('when NODE_ENV is test, then there is no home page, no demo and no local checkout', async () => {
    const other = await startTestApp({ deps: { stripe: null } });
    try {
      for (const path of ['/', '/demo', '/dev/checkout/cs_local_000000000000000000000000']) {
        expect({ path, status: (await fetch(`${other.url}${path}`)).status }).toEqual({ path, status: 404 });
      }
    } finally {
      await other.close();
    }
  });
});
