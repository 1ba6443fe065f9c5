import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, screenshot, watchErrors } from '../support/browser.js';
import { consolePage } from '../support/console.js';
import { seedFinance } from '../support/finance-seed.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// Finance staff use the reports inside the console: one sign-in, the running drive's chart, another
// campaign picked, CSVs downloaded, in English and Ukrainian, on a desktop and on phones.

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ TIME_ZONE: 'Europe/Kyiv' }) });
  await seedFinance(app);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const drive = (page: Page) => page.locator('section[data-drive]');
const downloaded = async (page: Page, selector: string) => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { name: download.suggestedFilename(), text: readFileSync((await download.path())!, 'utf8') };
};
/** Nothing wider than the screen: the page never scrolls sideways. */
const fitsWidth = async (page: Page) => {
  const wide = await page.evaluate(() =>
    Array.from(document.querySelectorAll('body *'))
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.closest('.table-wrap'))
      .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`),
  );
  expect(wide).toEqual([]);
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
};

it('when finance signs in once, then the reports show the running drive, another campaign can be picked and CSVs download', async () => {
  const page = await consolePage(browser, app.url, app.deps.db, 'finance');
  const errors = watchErrors(page);
  page.setDefaultTimeout(10_000);

  // The old address leads into the console, signed in already.
  await page.goto(`${app.url}/dashboard`);
  expect(page.url()).toBe(`${app.url}/console/reports`);
  expect(await page.locator('h1').textContent()).toBe('Finance reports');
  expect(await page.locator('header nav a[aria-current="page"]').textContent()).toBe('Finance reports');

  // The running drive, not the newest (planned) campaign, with both charts drawn.
  expect(await drive(page).getAttribute('data-drive')).toBe('winter-2026');
  expect(await drive(page).locator('[data-stat="count"] strong').textContent()).toBe('603 of 1,000');
  const chart = await drive(page).locator('svg.chart').first().boundingBox();
  expect(chart!.width).toBeGreaterThan(600);
  expect(await drive(page).locator('svg.chart polyline').count()).toBe(1);
  expect(await page.locator('#gifts tbody td:first-child').allTextContents()).toContain(
    'Recipients who went on to pay',
  );
  await screenshot(page, 'console-reports');

  // Another campaign, picked with the form.
  await page.selectOption('#campaign', 'spring-2026');
  await Promise.all([page.waitForURL(/campaign=spring-2026/), page.click('form.pick button[type=submit]')]);
  expect(await drive(page).getAttribute('data-drive')).toBe('spring-2026');
  expect(await drive(page).locator('[data-stat="count"] strong').textContent()).toBe('150 of 200');
  expect(await page.locator('#campaign').inputValue()).toBe('spring-2026');

  // Downloads go with the console's session: no second sign-in, no token in the page.
  const supporters = await downloaded(page, '[data-download="supporters"]');
  expect(supporters.name).toBe('supporters.csv');
  const lines = supporters.text.trim().split('\n');
  expect(lines[0]).toBe(
    'email,name,status,source,plan,interval,amount,currency,joined_at,current_period_end,campaign,stripe_customer_id',
  );
  expect(
    lines
      .slice(1)
      .map((l) => l.split(',')[0])
      .sort(),
  ).toEqual(['reader0@example.com', 'reader1@example.com', 'reader2@example.com']);
  const revenue = await downloaded(page, '[data-download="revenue"]');
  expect(revenue.name).toBe('revenue.csv');
  expect(revenue.text).toContain('2026-11,eur,2000,-500,0,1500,2,3,,,,,0');
  expect(await page.locator('#password').count()).toBe(0);

  for (const width of [375, 320]) {
    await page.setViewportSize({ width, height: 800 });
    expect(await fitsWidth(page)).toBe(true);
  }
  await screenshot(page, 'console-reports-phone');
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

it('when finance picks Українська, then the console speaks Ukrainian on this page and the next', async () => {
  const page = await consolePage(browser, app.url, app.deps.db, 'finance');
  const errors = watchErrors(page);
  page.setDefaultTimeout(10_000);
  await page.goto(`${app.url}/console/reports`);
  await Promise.all([page.waitForURL(/lang=uk/), page.click('.locales a[lang="uk"]')]);

  expect(await page.getAttribute('html', 'lang')).toBe('uk');
  expect(await page.locator('h1').textContent()).toBe('Фінансові звіти');
  expect(await page.locator('header nav a').allTextContents()).toEqual([
    'Огляд кампанії',
    'Члени',
    'Звідки приходять члени',
    'Фінансові звіти',
  ]);
  expect(await page.locator('form.who button').textContent()).toBe('Вийти');
  expect(await page.locator('form.pick button').textContent()).toBe('Показати');
  expect(await drive(page).locator('[data-stat="count"]').textContent()).toMatch(
    /^603 з 1\s000 нових членів$/,
  );
  expect(await page.locator('#revenue tbody td:first-child').textContent()).toMatch(/^листопад 2026/);

  // The next page, by the menu, stays in Ukrainian.
  await Promise.all([
    page.waitForURL(`${app.url}/console`),
    page.click('header nav a:text-is("Огляд кампанії")'),
  ]);
  expect(await page.locator('h1').textContent()).toBe('Огляд кампанії');
  await page.setViewportSize({ width: 375, height: 800 });
  expect(await fitsWidth(page)).toBe(true);
  await screenshot(page, 'console-overview-uk');
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);
