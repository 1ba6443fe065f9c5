import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { checkoutSession, invoice, postEvent, purchase, stripeEvent } from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp } from '../support/test-app.js';

// The dunning email's "Update my card" opens Stripe's card form directly, once, for two weeks.

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
});
afterAll(async () => {
  await app?.close();
  await recorder?.close();
});

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };

/** A reader whose renewal failed, and the card link their email carries (pointed at the test app). */
async function failedRenewal() {
  const p = purchase();
  const created = Math.floor(clock.now().getTime() / 1000);
  expect(
    (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p), created))).status,
  ).toBe(200);
  const failed = { ...invoice(p, { paid: false }), created };
  expect((await postEvent(app.url, stripeEvent('invoice.payment_failed', failed, created))).status).toBe(200);
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ template: 'payment-failed', 'to.email': p.email })
    .lean();
  const link = new URL(String(job!.data.updateUrl));
  return { p, link: new URL(`${link.pathname}${link.search}`, app.url) };
}

const press = (link: URL) =>
  fetch(`${app.url}/account/card`, {
    method: 'POST',
    headers: FORM,
    body: link.searchParams.toString(),
    redirect: 'manual',
  });

const portalSessions = (customer: string) =>
  recorder.requests.filter((r) => r.path === '/v1/billing_portal/sessions' && r.params.customer === customer);

describe('the card link in the payment-failed email', () => {
  it('when the reader opens it and presses the button, then a Customer Portal session opens on the card form, once', async () => {
    const { p, link } = await failedRenewal();
    // Opening the link (as a mail scanner would) changes nothing: it shows a button.
    const opened = await fetch(link);
    expect(opened.status).toBe(200);
    expect(await opened.text()).toContain('<form method="post" action="/account/card">');
    expect(portalSessions(p.customer)).toEqual([]);

    const first = await press(link);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toMatch(/^https:\/\//);
    expect(portalSessions(p.customer)).toEqual([
      expect.objectContaining({
        status: 200,
        params: expect.objectContaining({
          customer: p.customer,
          'flow_data[type]': 'payment_method_update',
          return_url: 'http://members.test/account',
        }),
      }),
    ]);

    // Used once: the second press (or a forwarded copy) is sent to sign in instead.
    const again = await press(link);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('This card link has expired or was already used.');
    expect(portalSessions(p.customer)).toHaveLength(1);
  });

  it('when the link is changed, or older than two weeks, then it opens nothing', async () => {
    const { p, link } = await failedRenewal();
    const forged = new URL(link);
    forged.searchParams.set('c', 'cus_someone_else');
    expect((await press(forged)).status).toBe(400);
    expect((await fetch(forged)).status).toBe(400);
    clock.advance(15 * 86_400_000);
    expect((await press(link)).status).toBe(400);
    expect(portalSessions(p.customer)).toEqual([]);
    expect(portalSessions('cus_someone_else')).toEqual([]);
  });
});
