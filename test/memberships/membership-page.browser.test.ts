import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { launchChromium, screenshot, watchErrors } from '../support/browser.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp } from '../support/test-app.js';

let app: TestApp;
let browser: Browser;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    deps: {
      clock: { now: () => new Date() },
      stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection),
    },
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await recorder?.close();
});

/** Stripe Checkout is not loaded (no network here): the test sees the browser go there and stops it. */
async function submitToCheckout(page: Page): Promise<string> {
  await page.route('https://checkout.stripe.com/**', (route) => route.abort());
  const toCheckout = page.waitForRequest((request) => new URL(request.url()).host === 'checkout.stripe.com');
  await page.click('button[type=submit]');
  return (await toCheckout).url();
}

const checkoutsFor = (email: string) =>
  recorder.requests.filter((r) => r.path === '/v1/checkout/sessions' && r.params.customer_email === email);

describe('the membership page in Chromium', () => {
  it('when a reader opens /membership?locale=uk, then it is in Ukrainian with the prices of each tier', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${app.url}/membership?locale=uk`);
    expect(await page.getAttribute('html', 'lang')).toBe('uk');
    expect(await page.textContent('h1')).toBe('Стати членом спільноти');
    expect(await page.textContent('[data-price="supporter"]')).toMatch(
      /^5,00\sEUR на місяць або 50,00\sEUR на рік$/,
    );
    expect(await page.textContent('[data-price="patron"]')).toMatch(/^15,00\sEUR на місяць/);
    expect(await page.getByLabel('Разовий внесок').count()).toBe(1);
    // Another currency, without JavaScript: a link shows the prices in pounds.
    await page.click('a:text-is("GBP")');
    expect(await page.textContent('[data-price="supporter"]')).toMatch(/^4,00\sGBP на місяць/);
    expect(await page.inputValue('#currency')).toBe('gbp');
    await screenshot(page, 'membership-uk');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'membership-uk-dark');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('when a reader types a custom amount of "7.50", then Stripe Checkout is asked for 750 minor units a month', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/membership?locale=en`);
    await page.getByLabel('Choose my own amount').check();
    await page.fill('#amountDecimal', '7.50');
    await page.fill('#email', 'custom.amount@example.com');
    expect(await submitToCheckout(page)).toMatch(/^https:\/\/checkout\.stripe\.com\//);
    const [sent] = checkoutsFor('custom.amount@example.com');
    expect(sent).toMatchObject({
      status: 200,
      params: {
        mode: 'subscription',
        'line_items[0][price_data][unit_amount]': '750',
        'line_items[0][price_data][currency]': 'usd',
        'line_items[0][price_data][recurring][interval]': 'month',
        'metadata[plan]': 'custom',
        'metadata[locale]': 'en',
      },
    });
    await page.close();
  });

  it('when a Ukrainian reader gives "12,50" once, then Checkout is a one-time payment of 1250 in euros', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/membership?locale=uk`);
    await page.getByLabel('Разовий внесок').check();
    await page.fill('#amountDecimal', '12,50');
    await page.fill('#email', 'once@example.com');
    await submitToCheckout(page);
    const [sent] = checkoutsFor('once@example.com');
    expect(sent?.params).toMatchObject({
      mode: 'payment',
      'line_items[0][price_data][unit_amount]': '1250',
      'line_items[0][price_data][currency]': 'eur',
      'metadata[kind]': 'one_time',
      'metadata[locale]': 'uk',
    });
    expect(sent?.params['line_items[0][price_data][recurring][interval]']).toBeUndefined();
    await page.close();
  });

  it('when a reader types an amount that is not one, then the form comes back with the message next to the field and nothing goes to Stripe', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/membership?locale=uk`);
    await page.getByLabel('Разовий внесок').check();
    await page.fill('#amountDecimal', '7.5.0');
    await page.fill('#email', 'typo@example.com');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/memberships/checkout')),
      page.click('button[type=submit]'),
    ]);
    expect(answer.status()).toBe(422);
    expect(await page.textContent('[role=alert]')).toContain('Будь ласка, виправте позначені нижче поля.');
    expect(await page.textContent('#amountDecimal-error')).toBe('Введіть суму, наприклад 7,50.');
    expect(await page.getAttribute('#amountDecimal', 'aria-describedby')).toContain('amountDecimal-error');
    expect(await page.getAttribute('#amountDecimal', 'aria-invalid')).toBe('true');
    // What the reader typed is still there, the choice too, and the field has the focus.
    expect(await page.inputValue('#amountDecimal')).toBe('7.5.0');
    expect(await page.inputValue('#email')).toBe('typo@example.com');
    expect(await page.isChecked('input[name=kind][value=one_time]')).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('amountDecimal');
    await screenshot(page, 'membership-error-uk');

    // Too little, in English: the limits are shown in money, not minor units.
    await page.goto(`${app.url}/membership?locale=en&currency=eur`);
    await page.getByLabel('A one-time contribution').check();
    await page.fill('#amountDecimal', '0.50');
    await page.fill('#email', 'typo@example.com');
    await page.click('button[type=submit]');
    expect(await page.textContent('#amountDecimal-error')).toBe(
      'Choose an amount between €5.00 and €10,000.00.',
    );
    expect(checkoutsFor('typo@example.com')).toEqual([]);
    await page.close();
  });
});
