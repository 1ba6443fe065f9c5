import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchErrors } from '../support/browser.js';
import { consolePage } from '../support/console.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The webhook pages in Chromium: an admin adds an endpoint through the menu and the form, copies
// the secret from the answer, and the endpoint's page no longer shows it; on a phone the pages fit.

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

describe('webhooks in the console, in Chromium', () => {
  it('when an admin adds an endpoint, then the secret is shown once in a field, the endpoint page shows no secret, and the pages fit a phone', async () => {
    const page = await consolePage(browser, app.url, app.deps.db, 'admin');
    const errors = watchErrors(page);
    await page.click('header nav a:text-is("Webhooks")');
    await page.click('a:text-is("Add an endpoint")');
    await page.fill('#url', 'https://hooks.example.org/crm');
    await page.check('input[name="events"][value="member.joined"]');
    await page.check('input[name="events"][value="member.renewed"]');
    await page.fill('#description', 'CRM');
    await page.click('button:text-is("Add endpoint")');
    const secret = await page.inputValue('#secret');
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(await page.textContent('[role=status]')).toContain('it is not shown again');

    await page.click('a:text-is("Go to the endpoint")');
    expect(await page.textContent('h1')).toBe('https://hooks.example.org/crm');
    expect(await page.content()).not.toContain('whsec_');
    expect(await page.textContent('[data-field=status]')).toBe('enabled');
    await page.click('button:text-is("Disable")');
    expect(await page.textContent('[data-field=status]')).toContain('disabled');

    for (const width of [320, 375]) {
      await page.setViewportSize({ width, height: 800 });
      for (const path of ['/console/webhooks', '/console/webhooks/new', page.url()]) {
        await page.goto(path.startsWith('http') ? path : `${app.url}${path}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${path} at ${width}px`).toBeLessThanOrEqual(0);
      }
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});
