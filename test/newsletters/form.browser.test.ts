import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newsletterModels } from '../../src/newsletters/newsletter.model.js';
import { launchChromium, screenshot, startHostSite, watchErrors } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const THANKS = "Thank you for signing up for this newsletter. We've sent you a confirmation email.";
let app: TestApp;
let browser: Browser;
let site: Awaited<ReturnType<typeof startHostSite>>;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  site = await startHostSite({
    '/story': `<!doctype html><html lang="en"><head><title>Story</title><style>input { display: none !important; }</style></head><body>
      <p>Get our newsletters:</p>
      <newsletter-signup lists="editors-picks,explaining-ukraine"></newsletter-signup>
      <script src="${app.url}/embed/newsletter-form.js" async></script>
    </body></html>`,
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await app?.close();
});

const status = async (email: string) =>
  (await newsletterModels(app.deps.db).Subscription.findById(`editors-picks:${email}`).lean())?.status;

describe('newsletter forms in Chromium', () => {
  it('when the embedded form on another site gets a bad address, it says so; a good one gets the thank-you', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(`${site.url}/story`);
    const form = page.locator('newsletter-signup');
    await expect.poll(() => form.locator('input[name=lists]').count(), { timeout: 10_000 }).toBe(2);

    await form.locator('#email').fill('not an address');
    await form.locator('button[type=submit]').click();
    await expect
      .poll(() => form.locator('.error').textContent())
      .toBe('Please enter a correct email address');
    expect(await form.locator('#email').getAttribute('aria-invalid')).toBe('true');
    expect(
      await form.locator('#email').evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement),
    ).toBe(true);
    await screenshot(page, 'newsletter-embed-invalid');

    await form.locator('#email').fill('reader@example.com');
    await form.locator('button[type=submit]').click();
    await expect.poll(() => form.locator('.done').textContent(), { timeout: 10_000 }).toBe(THANKS);
    expect(await form.locator('form').isVisible()).toBe(false);
    await screenshot(page, 'newsletter-embed-thanks');
    expect(await status('reader@example.com')).toBe('pending');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('when JavaScript is off, the plain form validates on the server and thanks the reader', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${app.url}/newsletters`);
    await page.fill('#nl-email', 'broken@');
    await page.click('button[type=submit]');
    expect(await page.locator('#form-error').textContent()).toBe('Please enter a correct email address');
    expect(await page.locator('#nl-email').getAttribute('aria-describedby')).toBe('form-error');

    await page.fill('#nl-email', 'nojs@example.com');
    await page.click('button[type=submit]');
    expect(await page.locator('[role=status]').textContent()).toBe(THANKS);
    await screenshot(page, 'newsletter-nojs-thanks');
    expect(await status('nojs@example.com')).toBe('pending');
    await context.close();
  });
});
