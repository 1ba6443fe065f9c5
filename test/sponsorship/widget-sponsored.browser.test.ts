import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { recordPoolMoney } from '../../src/sponsorship/pool.service.js';
import { poolKey, sponsorshipModels } from '../../src/sponsorship/sponsorship.model.js';
import { decideRequest } from '../../src/sponsorship/sponsorship.service.js';
import { sponsorshipDepsFrom } from '../../src/sponsorship/sponsorship-deps.js';
import { launchChromium, startHostSite } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let app: TestApp;
let browser: Browser;
let site: Awaited<ReturnType<typeof startHostSite>>;
let campaign: Campaign;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  const now = Date.now();
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'birthday',
      title: 'Our birthday drive',
      goal: 1000,
      startsAt: new Date(now - 86_400_000),
      endsAt: new Date(now + 86_400_000),
      timeZone: 'UTC',
    })
  ).toObject();
  site = await startHostSite({
    '/article': `<!doctype html><html lang="en"><body>
      <membership-goal campaign="birthday" show-sponsored></membership-goal>
      <membership-goal campaign="birthday" id="plain"></membership-goal>
      <script src="${app.url}/widget.js" async></script></body></html>`,
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await app?.close();
});

describe('the widget with show-sponsored', () => {
  it('when supporters have sponsored two readers, then the widget says so, and only where asked', async () => {
    const deps = sponsorshipDepsFrom(app.deps.config, app.deps);
    await recordPoolMoney(app.deps.db, poolKey(campaign._id, 'eur'), {
      entryId: 'pi_pool',
      amount: 2 * deps.prices.eur!,
      sponsorEmail: 'anna@example.com',
      at: new Date(),
    });
    const requests = await sponsorshipModels(app.deps.db).Request.insertMany(
      ['a', 'b'].map((x) => ({
        campaignId: campaign._id,
        email: `${x}@example.org`,
        reason: 'r',
        country: 'UA',
        locale: 'en',
        status: 'requested',
        tokenHash: 'x',
      })),
    );
    for (const r of requests)
      expect(await decideRequest(deps, String(r._id), { decision: 'approve', by: 'test' })).toBe('granted');

    const page = await browser.newPage();
    await page.goto(`${site.url}/article`);
    const line = page.locator('membership-goal[show-sponsored] >> .sponsored');
    await expect
      .poll(() => line.textContent(), { timeout: 10_000 })
      .toBe('2 readers sponsored by supporters');
    expect(await line.isVisible()).toBe(true);
    expect(await page.locator('#plain >> .sponsored').isVisible()).toBe(false);
    await page.close();
  });
});
