import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { launchChromium, screenshot, watchErrors } from '../support/browser.js';
import { postEvent, stripeEvent } from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('gift pages in Chromium', () => {
  it('when the hosted gift page is filled in, the purchaser is sent to the Checkout URL Stripe returned', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    // Stripe itself is not loaded (no network here): the test watches the browser ask for it.
    const toCheckout = page.waitForRequest(
      (request) => new URL(request.url()).host === 'checkout.stripe.com',
    );
    await page.goto(`${app.url}/gifts?campaign=birthday`);
    await page.getByLabel('3 months').check();
    await page.fill('#recipientName', 'Taras');
    await page.fill('#recipientEmail', 'taras.browser@example.com');
    await page.fill('#message', 'For your birthday');
    await page.fill('#purchaserName', 'Olena');
    await page.fill('#purchaserEmail', 'olena.browser@example.com');
    await screenshot(page, 'gift-page');
    expect(errors).toEqual([]);
    await page.click('button[type=submit]');
    const checkoutUrl = (await toCheckout).url();

    const gift = await giftModel(app.deps.db)
      .findOne({ 'recipient.email': 'taras.browser@example.com' })
      .lean();
    expect(gift).toMatchObject({
      status: 'pending_payment',
      durationMonths: 3,
      campaign: 'birthday',
      message: 'For your birthday',
    });
    expect(checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.com\//);
    await page.close();
  }, 60_000); // two full-page screenshots: 2.5 s alone, over 30 s once in CI beside other browsers

  it('when the recipient follows the redeem link, they redeem and see the confirmation', async () => {
    const gift = await giftModel(app.deps.db)
      .findOne({ 'recipient.email': 'taras.browser@example.com' })
      .lean();
    const session = {
      id: `cs_${gift!._id}`,
      object: 'checkout.session',
      payment_status: 'paid',
      amount_total: gift!.amount,
      currency: gift!.currency,
      payment_intent: `pi_${gift!._id}`,
      metadata: { app: METADATA_APP, kind: 'gift', giftId: String(gift!._id) },
    };
    await giftModel(app.deps.db).updateOne({ _id: gift!._id }, { $set: { deliverAt: new Date() } });
    expect(
      (
        await postEvent(
          app.url,
          stripeEvent('checkout.session.completed', session, Math.floor(Date.now() / 1000)),
        )
      ).status,
    ).toBe(200);
    const delivery = await emailModels(app.deps.db)
      .EmailJob.findOne({ template: 'gift-delivery', 'to.email': 'taras.browser@example.com' })
      .lean();
    const link = new URL(String(delivery!.data.redeemUrl));

    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${app.url}${link.pathname}${link.search}`);
    expect(await page.locator('h1').textContent()).toBe('A gift for you, Taras');
    expect(await page.locator('#email').inputValue()).toBe('taras.browser@example.com');
    await page.click('button[type=submit]');
    expect(await page.locator('h1').textContent()).toBe('Your membership has started');
    await screenshot(page, 'gift-redeemed');
    expect(
      await membershipModels(app.deps.db).Member.findOne({ email: 'taras.browser@example.com' }).lean(),
    ).toMatchObject({
      source: 'gift',
      status: 'active',
    });
    expect(errors).toEqual([]);
    await page.close();
  });
});
