import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { launchChromium, screenshot, watchErrors } from '../support/browser.js';
import { STAFF_PASSWORD, staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let app: TestApp;
let browser: Browser;
const now = Date.now();
const month = new Date(now).toISOString().slice(0, 7);

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  await staffToken(app.url, app.deps.db, 'finance');
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: 'Birthday',
    goal: 10,
    startsAt: new Date(now - 10 * 86_400_000),
    endsAt: new Date(now + 10 * 86_400_000),
    timeZone: 'UTC',
  });
  for (let i = 0; i < 3; i++) {
    const member = await membershipModels(app.deps.db).Member.create({
      email: `dash${i}@example.com`,
      status: 'active',
      source: 'checkout',
      joinedAt: new Date(now - (i + 1) * 86_400_000),
      joinedVia: `sub_d${i}`,
    });
    await app.deps.events.publish('member.joined', {
      memberId: String(member._id),
      email: member.email,
      joinedAt: member.joinedAt,
      source: 'checkout',
    });
    await membershipModels(app.deps.db).Subscription.create({
      _id: `sub_d${i}`,
      memberId: member._id,
      customerId: `cus_d${i}`,
      status: 'active',
      plan: 'supporter',
      interval: 'month',
      amount: 500,
      currency: 'eur',
      cancelAtPeriodEnd: false,
      lastEventCreated: 1,
      lastEventId: 'e',
    });
  }
  await ledgerModel(app.deps.db).insertMany([
    {
      _id: 'in_d1',
      kind: 'subscription_payment',
      amount: 500,
      currency: 'eur',
      occurredAt: new Date(now),
      day: `${month}-01`,
      month,
      recordedAt: new Date(),
    },
    {
      _id: 'in_d2',
      kind: 'subscription_payment',
      amount: 1500,
      currency: 'eur',
      occurredAt: new Date(now),
      day: `${month}-01`,
      month,
      recordedAt: new Date(),
    },
    {
      _id: 'refund:d',
      kind: 'refund',
      amount: -500,
      currency: 'eur',
      occurredAt: new Date(now),
      day: `${month}-01`,
      month,
      recordedAt: new Date(),
    },
  ]);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

it('when finance staff sign in, the dashboard shows the charts with the seeded numbers and downloads the CSV', async () => {
  const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1200, height: 1000 } });
  const errors = watchErrors(page);
  await page.goto(`${app.url}/dashboard`);
  await page.fill('#email', 'finance@newsroom.example');
  await page.fill('#password', STAFF_PASSWORD);
  await page.click('#sign-in button[type=submit]');

  await expect
    .poll(() => page.locator('[data-stat="MRR"] strong').textContent(), { timeout: 10_000 })
    .toBe('€15.00');
  expect(await page.locator('[data-stat="New"] strong').textContent()).toBe('3');
  await expect
    .poll(() => page.locator('#revenue-table td').allTextContents())
    .toEqual([month, 'EUR', '€20.00', '-€5.00', '€0.00', '€15.00']);
  await expect.poll(() => page.locator('#campaign-table tbody tr').count()).toBe(3);
  expect(await page.locator('#campaign-table tbody tr:last-child td').allTextContents()).toEqual([
    expect.any(String),
    '1',
    '0',
    '3',
    '10',
  ]);
  // Each chart was drawn by Chart.js on its canvas.
  const drawn = await page.evaluate(() =>
    ['revenue-chart', 'campaign-chart', 'gifts-chart'].map((id) =>
      Boolean(
        (window as unknown as { Chart: { getChart(el: Element | null): unknown } }).Chart.getChart(
          document.getElementById(id),
        ),
      ),
    ),
  );
  expect(drawn).toEqual([true, true, true]);
  await screenshot(page, 'dashboard');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const csv = readFileSync((await download.path())!, 'utf8');
  expect(csv.split('\n')[0]).toBe(
    'email,name,status,source,plan,interval,amount,currency,joined_at,current_period_end,campaign,stripe_customer_id',
  );
  expect(csv).toContain('dash0@example.com');
  expect(errors).toEqual([]);
  await page.close();
});
