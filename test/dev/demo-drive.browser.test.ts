import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_ADMIN_EMAIL } from '../../src/dev/demo-seed.js';
import { freePort } from '../../src/infra/embedded-db.js';
import { launchChromium, screenshot, watchErrors } from '../support/browser.js';
import { type ServerProcess, spawnScript } from '../support/server-process.js';
import { databaseUri } from '../support/test-app.js';

// A newcomer's first run: `npm run dev` (the server with --demo, development, no Stripe or
// SendGrid key) on a fresh database, driven in Chromium from the home page to a paid membership.

const mailDir = mkdtempSync(path.join(os.tmpdir(), 'demo-mail-'));
let server: ServerProcess;
let browser: Browser;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawnScript(
    'src/server.ts',
    {
      MONGODB_URI: databaseUri(`demo_${randomBytes(6).toString('hex')}`),
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_BASE_URL: base,
      DEV_MAIL_DIR: mailDir,
      PROGRESS_CACHE_SECONDS: '0',
      LOG_LEVEL: 'info',
    },
    ['--demo'],
  );
  await server.waitForLog('development home page');
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  server?.child.kill('SIGTERM');
  await server?.exited;
  rmSync(mailDir, { recursive: true, force: true });
});

const welcomeEmails = (to: string) =>
  readdirSync(mailDir)
    .filter((f) => f.includes('member-welcome') && f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(mailDir, f), 'utf8')) as { to: { email: string } })
    .filter((m) => m.to.email === to);

it('when a newcomer opens the home page, follows to /demo and becomes a member on the local checkout, then the count goes up by one, the welcome email is in the mail folder and the console reports show the member', async () => {
  const password = /sign in as \S+ with password (\S+)"/.exec(server.output())?.[1];
  expect(password).toBeDefined();
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = watchErrors(page);

  // The home page says what runs and leads to the demo.
  await page.goto(`${base}/`);
  const home = await page.locator('main').textContent();
  expect(home).toContain('local checkout (no Stripe key)');
  expect(home).toContain('campaign "birthday" is running');
  await screenshot(page, 'dev-home');
  await page.click('text=Open the demo drive');
  await page.waitForURL(`${base}/demo`);

  // The banner shows the seeded campaign through the public widget.
  const widget = page.locator('membership-goal[campaign="birthday"]');
  await expect
    .poll(() => widget.locator('.count').textContent(), { timeout: 10_000 })
    .toBe('612 of 1,000 new members · 61%');
  expect(await widget.locator('h2').textContent()).toBe('1,000 new members for our birthday');
  // The seeded supporters, counted before the server answered.
  await expect.poll(() => page.locator('#supporters').textContent()).toBe('Supporters today: 1,240');
  expect(await page.locator('[data-membership-button]').count()).toBe(2); // member and gift buttons
  await expect.poll(() => page.locator('newsletter-signup input[type=checkbox]').count()).toBeGreaterThan(0);
  await screenshot(page, 'dev-demo-before');

  // "Become a member" → the hosted form → the local checkout → Pay.
  await page.click('[data-membership-button]:text("Become a member")');
  await page.waitForURL(
    (url) =>
      url.pathname === '/membership' &&
      url.searchParams.get('campaign') === 'birthday' &&
      url.searchParams.get('placement') === 'button' &&
      url.searchParams.get('page') === `${base}/demo`,
  );
  await page.fill('#email', 'first.reader@example.com');
  await page.fill('#name', 'First Reader');
  await page.selectOption('select[name=currency]', 'eur');
  await page.click('button:text("Continue to payment")');
  await page.waitForURL(/\/dev\/checkout\/cs_local_/);
  expect(await page.locator('main').textContent()).toContain('€5.00 per month');
  await screenshot(page, 'dev-local-checkout');
  await page.click('button:text("Pay")');
  await page.waitForURL(/\/membership\/thanks\?session_id=cs_local_/);

  // Back on the article page the count has gone up by one. The payment's events are applied by the
  // server's job runner just after they are answered (as with Stripe, the thanks page can come
  // first), so a reader who opens the page at once may need one more look.
  await expect
    .poll(
      async () => {
        await page.goto(`${base}/demo`);
        await widget.locator('.count', { hasText: 'of 1,000' }).waitFor({ timeout: 10_000 });
        return widget.locator('.count').textContent();
      },
      { timeout: 30_000, interval: 1_000 },
    )
    .toBe('613 of 1,000 new members · 61%');
  // The new member is a supporter too: the total follows within a recount.
  await expect
    .poll(
      async () => {
        await page.goto(`${base}/demo`);
        return page
          .locator('#supporters', { hasText: 'Supporters today: 1,' })
          .textContent({ timeout: 10_000 });
      },
      { timeout: 45_000, interval: 2_000 },
    )
    .toBe('Supporters today: 1,241');
  await screenshot(page, 'dev-demo-after');

  // The welcome email was written to the mail folder, and the home page lists it.
  await expect.poll(() => welcomeEmails('first.reader@example.com').length, { timeout: 15_000 }).toBe(1);
  await page.goto(`${base}/`);
  expect(await page.locator('#latest-mail').textContent()).toContain('to first.reader@example.com');

  // The demo admin signs in to the console's finance reports with the logged credentials and sees
  // the new member (the old /dashboard address leads there).
  await page.goto(`${base}/dashboard`);
  errors.length = 0; // Chromium logs the sign-in form's 401 answer itself as a failed resource
  await page.fill('#email', DEMO_ADMIN_EMAIL);
  await page.fill('#password', password!);
  await Promise.all([
    page.waitForURL(`${base}/console/reports`),
    page.click('form[action="/console/sign-in"] button'),
  ]);
  expect(await page.locator('[data-stat="new"] strong').textContent()).toBe('1');
  expect(await page.locator('[data-stat="mrr"] strong').textContent()).toBe('€5.00');
  await screenshot(page, 'dev-console-reports');

  expect(errors).toEqual([]);
  await page.close();
}, 120_000);

it('when /demo is opened with JavaScript off, then the iframe under "The goal, without JavaScript" shows the count and both buttons', async () => {
  const context = await browser.newContext({
    viewport: { width: 1100, height: 900 },
    javaScriptEnabled: false,
  });
  const page = await context.newPage();
  await page.goto(`${base}/demo`);
  const frame = page.frameLocator('section[aria-labelledby="goal-h"] iframe');
  // 612 seeded, one more if the newcomer above has joined.
  await expect
    .poll(() => frame.locator('.count').textContent({ timeout: 10_000 }))
    .toMatch(/^61[23] of 1,000 new members · 61%$/);
  expect(await frame.locator('h2').textContent()).toBe('1,000 new members for our birthday');
  expect(await frame.locator('a.join').textContent()).toBe('Become a member');
  expect(await frame.locator('a.gift').textContent()).toBe('Gift a membership');
  await screenshot(page, 'dev-demo-no-javascript');
  await context.close();
}, 60_000);
