import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { DEFAULT_PLANS } from '../../src/memberships/plans.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp } from '../support/test-app.js';

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});
afterEach(() => {
  recorder.requests.length = 0;
});

const checkout = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${app.url}/memberships/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('plans', () => {
  it('when the site asks for plans, then it gets tiers, prices in minor units and limits', async () => {
    const res = await fetch(`${app.url}/memberships/plans`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(DEFAULT_PLANS);
  });
});

describe('checkout', () => {
  it('when a reader picks a monthly tier, then Stripe gets a subscription session with price_data and our metadata', async () => {
    const res = await checkout(
      {
        kind: 'membership',
        plan: 'supporter',
        interval: 'month',
        currency: 'eur',
        email: ' Olena@Example.com ',
        campaign: 'birthday',
      },
      { 'idempotency-key': 'form-submit-0001' },
    );
    expect(res.status).toBe(201);
    const body = (await res.json()) as { sessionId: string; url: string };
    expect(body.sessionId).toMatch(/^cs_/);
    expect(body.url).toMatch(/^https:\/\//);

    const [request] = recorder.requests;
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v1/checkout/sessions',
      status: 200,
      idempotencyKey: 'checkout:form-submit-0001',
    });
    expect(request!.params).toMatchObject({
      mode: 'subscription',
      customer_email: 'olena@example.com',
      'line_items[0][quantity]': '1',
      'line_items[0][price_data][currency]': 'eur',
      'line_items[0][price_data][unit_amount]': '500',
      'line_items[0][price_data][recurring][interval]': 'month',
      'line_items[0][price_data][product_data][name]': 'Supporter membership',
      'metadata[app]': 'membership-drive',
      'metadata[kind]': 'membership',
      'metadata[plan]': 'supporter',
      'metadata[interval]': 'month',
      'metadata[campaign]': 'birthday',
      'subscription_data[metadata][app]': 'membership-drive',
      success_url: 'http://members.test/membership/thanks?session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'http://members.test/membership',
    });
  });

  it('when a reader picks yearly, a custom amount, or a one-time gift of money, then the price is right for each', async () => {
    await checkout({
      kind: 'membership',
      plan: 'patron',
      interval: 'year',
      currency: 'gbp',
      email: 'a@example.com',
    });
    await checkout({
      kind: 'membership',
      plan: 'custom',
      amount: 700,
      interval: 'month',
      currency: 'usd',
      email: 'b@example.com',
    });
    await checkout({ kind: 'one_time', amount: 2500, currency: 'eur', email: 'c@example.com' });
    expect(recorder.requests.map((r) => r.status)).toEqual([200, 200, 200]);
    const [yearly, custom, once] = recorder.requests.map((r) => r.params);
    expect(yearly).toMatchObject({
      mode: 'subscription',
      'line_items[0][price_data][unit_amount]': '12000',
      'line_items[0][price_data][recurring][interval]': 'year',
    });
    expect(custom).toMatchObject({
      'line_items[0][price_data][unit_amount]': '700',
      'metadata[plan]': 'custom',
    });
    expect(once).toMatchObject({
      mode: 'payment',
      submit_type: 'donate',
      customer_creation: 'always',
      'line_items[0][price_data][unit_amount]': '2500',
      'payment_intent_data[metadata][kind]': 'one_time',
    });
    expect(once!['line_items[0][price_data][recurring][interval]']).toBeUndefined();
  });

  it('when the reader is already a member, then their Stripe customer is reused', async () => {
    await membershipModels(app.deps.db).Member.create({
      email: 'known@example.com',
      stripeCustomerId: 'cus_known123',
      status: 'canceled',
      source: 'checkout',
      joinedAt: new Date(),
      joinedVia: 'sub_old',
    });
    await checkout({
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'usd',
      email: 'known@example.com',
    });
    expect(recorder.requests[0]!.params).toMatchObject({ customer: 'cus_known123' });
    expect(recorder.requests[0]!.params.customer_email).toBeUndefined();
  });

  it('when the input is wrong, then 422 names the field and Stripe is not called', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { kind: 'membership', plan: 'supporter', interval: 'month', currency: 'eur', email: 'not-an-email' },
        'email',
      ],
      [
        { kind: 'membership', plan: 'gold', interval: 'month', currency: 'eur', email: 'a@example.com' },
        'plan',
      ],
      [
        {
          kind: 'membership',
          plan: 'custom',
          amount: 50,
          interval: 'month',
          currency: 'eur',
          email: 'a@example.com',
        },
        'amount',
      ],
      [{ kind: 'one_time', amount: 5, currency: 'eur', email: 'a@example.com' }, 'amount'],
      [{ kind: 'one_time', amount: 500, currency: 'jpy', email: 'a@example.com' }, 'currency'],
    ];
    for (const [body, field] of cases) {
      const res = await checkout(body);
      expect(res.status).toBe(422);
      const error = (
        (await res.json()) as { error: { code: string; details: { path: string; message: string }[] } }
      ).error;
      expect(error.code).toBe('validation_failed');
      expect(error.details.map((d) => d.path)).toContain(field);
    }
    expect(recorder.requests).toHaveLength(0);
  });

  it('when the no-JavaScript form is posted, then the reader is redirected to Stripe Checkout', async () => {
    const form = new URLSearchParams({
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'eur',
      email: 'form@example.com',
    });
    const res = await fetch(`${app.url}/memberships/checkout`, {
      method: 'POST',
      body: form,
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^https:\/\//);
  });

  it('when the hosted form is posted as a browser sends it, with the own-amount and name fields left blank, then the reader is redirected to Stripe Checkout', async () => {
    const form = new URLSearchParams({
      kind: 'membership',
      plan: 'supporter',
      amount: '',
      interval: 'month',
      currency: 'eur',
      email: 'blank-fields@example.com',
      name: '',
    });
    const res = await fetch(`${app.url}/memberships/checkout`, {
      method: 'POST',
      headers: { accept: 'text/html' },
      body: form,
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^https:\/\//);
  });

  it('when the hosted membership page is opened, then it offers every tier in a form that works without JavaScript', async () => {
    const html = await (await fetch(`${app.url}/membership?campaign=birthday`)).text();
    expect(html).toContain('<form method="post" action="/memberships/checkout">');
    expect(html).toContain('value="supporter"');
    expect(html).toContain('value="patron"');
    expect(html).toContain('<input type="hidden" name="campaign" value="birthday">');
    expect(html).toMatch(
      /<label for="email">Email<\/label>\s*<input id="email" name="email" type="email" required/,
    );
  });
});

describe('without Stripe', () => {
  it('when no Stripe key is configured, then checkout answers 503 payments_not_configured', async () => {
    const bare = await startTestApp({ deps: { stripe: null } });
    const res = await fetch(`${bare.url}/memberships/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'one_time', amount: 500, currency: 'eur', email: 'a@example.com' }),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payments_not_configured');
    await bare.close();
  });
});

describe('embeddable button', () => {
  it('when the news site loads the button script from its own origin, then it is allowed and links to the membership page', async () => {
    const res = await fetch(`${app.url}/embed/membership-button.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/javascript');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const script = await res.text();
    expect(script).toContain("'/membership'");
    expect(script).toContain('data-campaign');
  });

  it('when a Ukrainian news page runs the member and gift button scripts, then the buttons read in Ukrainian and open the Ukrainian pages', async () => {
    const links: Record<string, { text: string; href: string }> = {};
    for (const name of ['membership-button', 'gift-button']) {
      const source = await (await fetch(`${app.url}/embed/${name}.js`)).text();
      // The script as a browser would run it, on a page whose <html lang="uk">.
      const link = { textContent: '', href: '', style: {}, setAttribute() {} };
      const script = {
        src: `${app.url}/embed/${name}.js`,
        getAttribute: () => null,
        parentNode: { insertBefore() {} },
      };
      const document = {
        currentScript: script,
        documentElement: { lang: 'uk' },
        referrer: '',
        createElement: () => link,
      };
      const location = { origin: 'https://news.example', pathname: '/story', search: '' };
      new Function('document', 'location', source)(document, location);
      const href = new URL(link.href);
      links[name] = {
        text: link.textContent,
        href: `${href.pathname}?locale=${href.searchParams.get('locale')}`,
      };
    }
    expect(links).toEqual({
      'membership-button': { text: 'Стати членом спільноти', href: '/membership?locale=uk' },
      'gift-button': { text: 'Подарувати членство', href: '/gifts?locale=uk' },
    });
  });
});
