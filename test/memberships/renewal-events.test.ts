import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { createEmailRenderer } from '../../src/email/renderer.js';
import { fromRoot } from '../../src/infra/paths.js';
import { STRIPE_API_VERSION } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { staffToken } from '../support/staff.js';
import {
  checkoutSession,
  invoice,
  outcomeOf,
  type Purchase,
  postEvent,
  purchase,
  signedHeaders,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The renewal events: a payment that needs the member's confirmation (SCA), the yearly renewal
// reminder, a plan switched in the Customer Portal, and events rendered in another API version.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(
    [
      'members',
      'member_keys',
      'subscriptions',
      'subscription_observations',
      'member_subscriptions',
      'ledger',
      'stripe_events',
      'stripe_event_payloads',
      'email_jobs',
    ].map((c) => app.deps.db.collection(c).deleteMany({})),
  );
});

const renderer = createEmailRenderer({
  templatesDir: fromRoot('templates/emails'),
  brand: { name: 'The Newsroom', primaryColor: '#1a56db', postalAddress: '1 Press Street', footer: {} },
});
const send = async (type: string, object: Record<string, unknown>, created = T0) => {
  const event = stripeEvent(type, object, created);
  const res = await postEvent(app.url, event);
  expect(res.status).toBe(200);
  return { outcome: await outcomeOf(app.url, event.id) };
};
const emailsTo = (email: string, template?: string) =>
  emailModels(app.deps.db)
    .EmailJob.find({ 'to.email': email, ...(template ? { template } : {}) })
    .lean();
async function member(p: Purchase) {
  await send('checkout.session.completed', checkoutSession(p));
  await send('customer.subscription.created', subscription(p, 'active'), T0 + 1);
}

const HOSTED = 'https://invoice.stripe.com/i/acct_test/test_YWNjdF8xTjRZ';
const actionRequired = (p: Purchase, id: string) => ({
  ...invoice(p, { id, paid: false }),
  hosted_invoice_url: HOSTED,
  billing_reason: 'subscription_cycle',
});

describe('invoice.payment_action_required', () => {
  it('when a renewal needs the member to confirm it with their bank, then they get one email with Stripe’s hosted invoice link, however often the event comes', async () => {
    const p = purchase({ plan: 'patron', interval: 'year', amount: 15000 });
    await member(p);
    const event = stripeEvent('invoice.payment_action_required', actionRequired(p, 'in_sca_1'), T0 + 100);
    const answers = await Promise.all([postEvent(app.url, event), postEvent(app.url, event)]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    await send('invoice.payment_action_required', actionRequired(p, 'in_sca_1'), T0 + 101); // Stripe's own retry, a new event id

    const jobs = await emailsTo(p.email, 'payment-action-required');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      idempotencyKey: 'payment-action:in_sca_1',
      locale: 'en',
      data: { amount: 15000, currency: 'EUR', confirmUrl: HOSTED },
    });
    const mail = renderer.render('payment-action-required', 'uk', jobs[0]!.data);
    expect(mail.html).toContain(`href="${HOSTED}"`);
    expect(mail.text).toContain('150,00');
    expect(mail.subject).toBe('Будь ласка, підтвердьте внесок за членство');
  });

  it('when the invoice was paid before the late action-required event arrives, then no email asks to confirm it', async () => {
    const p = purchase();
    await member(p);
    await send('invoice.paid', invoice(p, { id: 'in_sca_2' }), T0 + 200);
    expect(
      await send('invoice.payment_action_required', actionRequired(p, 'in_sca_2'), T0 + 100),
    ).toMatchObject({ outcome: 'applied' });
    expect(await emailsTo(p.email, 'payment-action-required')).toHaveLength(0);
  });

  it('when the invoice is not one of ours, then nothing is sent', async () => {
    const p = purchase();
    const foreign = { ...actionRequired(p, 'in_sca_3'), parent: null };
    expect(await send('invoice.payment_action_required', foreign)).toMatchObject({ outcome: 'ignored' });
    expect(await emailsTo(p.email)).toHaveLength(0);
  });
});

const RENEWS = T0 + 358 * 86400;
const upcoming = (p: Purchase, amount = p.amount) => {
  const { id: _noId, ...draft } = invoice(p, { paid: false });
  return { ...draft, amount_due: amount, status: 'draft', next_payment_attempt: RENEWS };
};

describe('invoice.upcoming', () => {
  it('when a yearly renewal is coming, then the member gets one reminder with the amount, the date and the manage link, however often Stripe says so', async () => {
    const p = purchase({ plan: 'patron', interval: 'year', amount: 15000 });
    await member(p);
    await send('invoice.upcoming', upcoming(p), T0 + 300);
    await send('invoice.upcoming', upcoming(p), T0 + 301);
    const jobs = await emailsTo(p.email, 'renewal-reminder');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      idempotencyKey: `renewal-reminder:${p.subscription}:${RENEWS}`,
      data: {
        amount: 15000,
        currency: 'EUR',
        renewsAt: new Date(RENEWS * 1000).toISOString(),
        manageUrl: 'http://members.test/account',
      },
    });
    const mail = renderer.render('renewal-reminder', 'en', jobs[0]!.data);
    expect(mail.subject).toBe('Your yearly membership renews on 11 November 2027');
    expect(mail.text).toContain('€150.00');
    expect(mail.html).toContain('href="http://members.test/account"');
  });

  it('when the plan is monthly, then no reminder goes out', async () => {
    const p = purchase();
    await member(p);
    expect(await send('invoice.upcoming', upcoming(p), T0 + 300)).toMatchObject({ outcome: 'ignored' });
    expect(await emailsTo(p.email, 'renewal-reminder')).toHaveLength(0);
  });

  it('when the member already chose to end at the period’s end, then no reminder says it will renew', async () => {
    const p = purchase({ plan: 'patron', interval: 'year', amount: 15000 });
    await member(p);
    await send(
      'customer.subscription.updated',
      subscription(p, 'active', { cancelAtPeriodEnd: true }),
      T0 + 200,
    );
    await send('invoice.upcoming', upcoming(p), T0 + 300);
    expect(await emailsTo(p.email, 'renewal-reminder')).toHaveLength(0);
  });

  it('when a monthly member switched to yearly in the Portal, then they get the yearly reminder at the new amount', async () => {
    const p = purchase();
    await member(p);
    const switched = { ...p, plan: 'patron', interval: 'year' as const, amount: 15000 };
    // Our metadata still says supporter, monthly: the Portal changes only the price.
    const sub = subscription(p, 'active');
    sub.items.data[0]!.price = subscription(switched, 'active').items.data[0]!.price;
    await send('customer.subscription.updated', sub, T0 + 200);
    await send('invoice.upcoming', upcoming(p, 15000), T0 + 300);
    expect(await emailsTo(p.email, 'renewal-reminder')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ amount: 15000 }) }),
    ]);
  });
});

describe('a plan switch in the Customer Portal', () => {
  it('when customer.subscription.updated says the price is now another tier and interval, then the subscription, the member’s plan and the summary’s MRR follow; an older event delivered late does not undo it', async () => {
    const p = purchase({ plan: 'supporter', interval: 'month', amount: 500, currency: 'eur' });
    await member(p);
    const before = await summaryMrr();

    const to = { ...p, plan: 'patron', interval: 'year' as const, amount: 15000 };
    const switched = subscription(p, 'active');
    switched.items.data[0] = { ...subscription(to, 'active').items.data[0]!, id: switched.items.data[0]!.id };
    await send('customer.subscription.updated', switched, T0 + 500);
    await send('customer.subscription.updated', subscription(p, 'active'), T0 + 400); // late, older

    const mirror = await membershipModels(app.deps.db).Subscription.findById(p.subscription).lean();
    expect(mirror).toMatchObject({ plan: 'patron', interval: 'year', amount: 15000, currency: 'eur' });
    const account = await fetch(`${app.url}/reports/supporters?status=active`, {
      headers: { authorization: (await staffToken(app.url, app.deps.db, 'finance')).authorization },
    });
    const rows = ((await account.json()) as { items: Record<string, unknown>[] }).items;
    expect(rows).toContainEqual(expect.objectContaining({ plan: 'patron', interval: 'year', amount: 15000 }));
    expect(before.eur).toBe(500);
    expect((await summaryMrr()).eur).toBe(1250);
  });
});

async function summaryMrr(): Promise<Record<string, number>> {
  const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
  const res = await fetch(`${app.url}/reports/summary?from=2026-11-01&to=2026-11-30`, {
    headers: { authorization },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { mrr: Record<string, number> }).mrr;
}

describe('the pinned API version', () => {
  it('when an event is rendered in another API version than the pin, then a warning names both versions, and the event is still applied', async () => {
    const warn = vi.spyOn(app.deps.logger, 'warn');
    const p = purchase();
    const body = JSON.stringify({
      id: 'evt_old_version',
      object: 'event',
      api_version: '2025-03-31.basil',
      created: T0,
      livemode: false,
      type: 'checkout.session.completed',
      data: { object: checkoutSession(p) },
    });
    const res = await fetch(`${app.url}/webhooks/stripe`, {
      method: 'POST',
      headers: signedHeaders(body),
      body,
    });
    expect(res.status).toBe(200);
    expect(await app.applyStripeEvents()).toBe(1);
    expect(await outcomeOf(app.url, 'evt_old_version')).toBe('applied');
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({
        eventId: 'evt_old_version',
        eventApiVersion: '2025-03-31.basil',
        apiVersion: STRIPE_API_VERSION,
      }),
      expect.stringContaining('another API version'),
    );
    warn.mockClear();
    await send('customer.subscription.created', subscription(p, 'active'), T0 + 1);
    expect(warn).not.toHaveBeenCalled();
  });
});
