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
    .toEqual([month, 'EUR', '€20.00', '-€5.00', '€0.00', '€15.00', '—']);
  await expect.poll(() => page.locator('#campaign-table tbody tr').count()).toBe(3);
  expect(await page.locator('#campaign-table tbody tr:last-child td').allTextContents()).toEqual([
    expect.any(String),
    '1',
    '0',
    '3',
    '10',
  ]);
  // Growth: three joined on three days; at the end, three active paying €5 a month.
  await expect.poll(() => page.locator('#active-table tbody tr').count()).toBe(31);
  expect(await page.locator('#active-table tbody tr:last-child td').allTextContents()).toEqual([
    expect.any(String),
    '3',
    '€15.00',
  ]);
  const growth = await page.evaluate(() => {
    const { Chart } = window as unknown as {
      Chart: { getChart(el: Element | null): { data: { datasets: { label: string; data: number[] }[] } } };
    };
    const joined = Chart.getChart(document.getElementById('joined-chart')).data.datasets[0]!.data;
    const active = Chart.getChart(document.getElementById('active-chart')).data.datasets;
    return {
      joined: joined.reduce((a, b) => a + b, 0),
      joinedDays: joined.filter((n) => n > 0).length,
      active: active.map((d) => [d.label, d.data.at(0), d.data.at(-1)]),
    };
  });
  expect(growth).toEqual({
    joined: 3,
    joinedDays: 3,
    active: [
      ['Active supporters', 0, 3],
      ['MRR EUR', 0, 15],
    ],
  });
  // Each chart was drawn by Chart.js on its canvas.
  const drawn = await page.evaluate(() =>
    ['revenue-chart', 'campaign-chart', 'gifts-chart', 'joined-chart', 'active-chart'].map((id) =>
      Boolean(
        (window as unknown as { Chart: { getChart(el: Element | null): unknown } }).Chart.getChart(
          document.getElementById(id),
        ),
      ),
    ),
  );
  expect(drawn).toEqual([true, true, true, true, true]);
  await screenshot(page, 'dashboard');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const csv = readFileSync((await download.path())!, 'utf8');
  expect(csv.split('\n')[0]).toBe(
    'email,name,status,source,plan,interval,amount,currency,joined_at,current_period_end,campaign,stripe_customer_id',
  );
  expect(csv).toContain('dash0@example.com');
  const [revenue] = await Promise.all([page.waitForEvent('download'), page.click('#download-revenue')]);
  expect(revenue.suggestedFilename()).toBe('revenue.csv');
  expect(
    readFileSync((await revenue.path())!, 'utf8')
      .split('\n')
      .slice(0, 2),
  ).toEqual([
    'period,currency,gross,refunds,disputes,net,payments,unsettled,settlement_currency,settled_amount,fees,settled_net,out_of_band',
    `${month},eur,2000,-500,0,1500,2,3,,,,,0`,
  ]);
  expect(errors).toEqual([]);
  await page.close();
});
