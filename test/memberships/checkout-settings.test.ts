import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { createEmailRenderer } from '../../src/email/renderer.js';
import { fromRoot } from '../../src/infra/paths.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { catalogModels } from '../../src/memberships/stripe-catalog.js';
import { checkoutSession, postEvent, purchase, stripeEvent } from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// What Stripe receives at Checkout for tiers with a Stripe Price (npm run stripe:setup) and for the
// newsroom's settings: promotion codes, automatic tax, tax id collection and a charity statement.

const STATEMENT = 'The Newsroom is a registered charity, no. 1234567. No goods or services were provided.';
let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    config: testConfig({
      STRIPE_PROMOTION_CODES: 'true',
      STRIPE_AUTOMATIC_TAX: 'true',
      STRIPE_TAX_ID_COLLECTION: 'true',
      CHARITY_STATEMENT: STATEMENT,
    }),
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
  // What setup stored for the supporter tier (src/memberships/stripe-setup.ts).
  await catalogModels(app.deps.db).CatalogPrice.create({
    _id: 'membership:supporter:month:eur',
    priceId: 'price_supporter_month_eur',
    productId: 'membership-supporter',
    tier: 'supporter',
    interval: 'month',
    currency: 'eur',
    unitAmount: 500,
  });
  await catalogModels(app.deps.db).CatalogPrice.create({
    _id: 'membership:patron:month:eur',
    priceId: 'price_patron_month_eur_old',
    productId: 'membership-patron',
    tier: 'patron',
    interval: 'month',
    currency: 'eur',
    unitAmount: 1400, // the plans say 1500 now: setup was not run since
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});
afterEach(() => {
  recorder.requests.length = 0;
  vi.restoreAllMocks();
});

const checkout = async (body: Record<string, unknown>) => {
  const res = await fetch(`${app.url}/memberships/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  expect(recorder.requests.at(-1)!.status).toBe(200);
  return recorder.requests.at(-1)!.params;
};
const priceParams = (params: Record<string, string>) =>
  Object.fromEntries(Object.entries(params).filter(([k]) => k.startsWith('line_items[0]')));

describe('tiers at their Stripe Price', () => {
  it('when setup made the tier’s Price, then Checkout sells the tier at it; a custom amount keeps price_data, tax-inclusive', async () => {
    const tier = await checkout({
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'eur',
      email: 'tier@example.com',
    });
    expect(priceParams(tier)).toEqual({
      'line_items[0][quantity]': '1',
      'line_items[0][price]': 'price_supporter_month_eur',
    });
    expect(tier['metadata[plan]']).toBe('supporter');

    const custom = await checkout({
      kind: 'membership',
      plan: 'custom',
      amount: 700,
      interval: 'month',
      currency: 'eur',
      email: 'custom@example.com',
    });
    expect(priceParams(custom)).toEqual({
      'line_items[0][quantity]': '1',
      'line_items[0][price_data][currency]': 'eur',
      'line_items[0][price_data][unit_amount]': '700',
      'line_items[0][price_data][product_data][name]': 'Membership',
      'line_items[0][price_data][recurring][interval]': 'month',
      'line_items[0][price_data][tax_behavior]': 'inclusive',
    });
  });

  it('when the stored Price has another amount than the plans (setup not rerun), then the plans’ amount is charged as price_data and a warning says to run setup', async () => {
    const warn = vi.spyOn(app.deps.logger, 'warn');
    const params = await checkout({
      kind: 'membership',
      plan: 'patron',
      interval: 'month',
      currency: 'eur',
      email: 'stale@example.com',
    });
    expect(params['line_items[0][price]']).toBeUndefined();
    expect(params['line_items[0][price_data][unit_amount]']).toBe('1500');
    expect(warn).toHaveBeenCalledWith(
      { lookupKey: 'membership:patron:month:eur' },
      expect.stringContaining('npm run stripe:setup'),
    );
  });
});

describe('checkout settings', () => {
  it('when promotion codes, tax, tax ids and a charity statement are on, then Stripe receives each for a membership', async () => {
    const params = await checkout({
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'eur',
      email: 'settings@example.com',
    });
    expect(params).toMatchObject({
      allow_promotion_codes: 'true',
      'automatic_tax[enabled]': 'true',
      'tax_id_collection[enabled]': 'true',
      'custom_text[submit][message]': STATEMENT,
      customer_email: 'settings@example.com',
    });
    // A new customer is created by Checkout with what they enter: nothing to allow updating.
    expect(params['customer_update[address]']).toBeUndefined();
  });

  it('when the reader is already a Stripe customer, then Checkout may update their address and name (what tax and tax ids need)', async () => {
    await membershipModels(app.deps.db).Member.create({
      email: 'known@example.com',
      stripeCustomerId: 'cus_known_tax',
      status: 'canceled',
      source: 'checkout',
      joinedAt: new Date(),
      joinedVia: 'sub_old',
    });
    const params = await checkout({
      kind: 'membership',
      plan: 'supporter',
      interval: 'year',
      currency: 'eur',
      email: 'known@example.com',
    });
    expect(params).toMatchObject({
      customer: 'cus_known_tax',
      'customer_update[address]': 'auto',
      'customer_update[name]': 'auto',
    });
  });

  it('when a one-time contribution is made, then only the charity statement applies (a donation owes no tax and takes no codes)', async () => {
    const params = await checkout({
      kind: 'one_time',
      amount: 2500,
      currency: 'eur',
      email: 'gift@example.com',
    });
    expect(params['custom_text[submit][message]']).toBe(STATEMENT);
    for (const key of ['allow_promotion_codes', 'automatic_tax[enabled]', 'tax_id_collection[enabled]'])
      expect(params[key]).toBeUndefined();
    expect(params['line_items[0][price_data][tax_behavior]']).toBeUndefined();
  });

  it('when the settings are on, then the hosted membership page says so; when off, it does not', async () => {
    const html = await (await fetch(`${app.url}/membership`)).text();
    expect(html).toContain('data-setting="promotion-codes"');
    expect(html).toContain('data-setting="tax"');
    expect(html).toContain('data-setting="tax-id"');
    expect(html).toContain(STATEMENT);

    const plain = await startTestApp({ db: app.deps.db });
    try {
      const page = await (await fetch(`${plain.url}/membership`)).text();
      expect(page).not.toContain('data-setting=');
    } finally {
      await plain.close();
    }
  });
});

describe('receipts', () => {
  it('when a one-time contribution is paid, then the receipt links Stripe’s receipt page and carries the charity statement', async () => {
    const p = purchase({ amount: 2500 });
    const res = await postEvent(
      app.url,
      stripeEvent('checkout.session.completed', checkoutSession(p, { kind: 'one_time' })),
    );
    expect(res.status).toBe(200);
    const asked = recorder.requests.find((r) => r.path === `/v1/payment_intents/${p.paymentIntent}`);
    expect(asked).toMatchObject({
      method: 'GET',
      status: 200,
      params: { 'expand[0]': 'latest_charge.balance_transaction' },
    });

    const [job] = await emailModels(app.deps.db).EmailJob.find({ 'to.email': p.email }).lean();
    expect(job).toMatchObject({
      template: 'contribution-receipt',
      data: {
        amount: 2500,
        receiptUrl: expect.stringMatching(/^https:\/\/.+\/receipts\//),
        charityStatement: STATEMENT,
      },
    });
    const renderer = createEmailRenderer({
      templatesDir: fromRoot('templates/emails'),
      brand: { name: 'The Newsroom', primaryColor: '#1a56db', postalAddress: '1 Press Street', footer: {} },
    });
    const mail = renderer.render('contribution-receipt', 'en', job!.data);
    expect(mail.html).toContain(`href="${(job!.data as { receiptUrl: string }).receiptUrl}"`);
    expect(mail.text).toContain(STATEMENT);
  });
});
