import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { countNewMember } from '../../src/campaigns/campaign.service.js';
import { receiptOf } from '../../src/campaigns/drive-log/log.service.js';
import { emailModels } from '../../src/email/email.model.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { launchChromium, screenshot, watchErrors } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, newCampaign } from './support.js';

// A member keeps the log's signed promise for their entry (issue 29, attack 6): the account page
// shows it beside the receipt, and its "Check it" link carries both (after `#`) to the verify page,
// which shows the promise and says whether the log kept it.

let app: TestApp;
let browser: Browser;
let campaign: Campaign;
const email = 'kept-promise@example.com';

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  campaign = await newCampaign(app);
  const joinedAt = new Date(Date.now() - 60_000);
  const { member } = await createMemberOnce(app.deps.db, {
    email,
    locale: 'en',
    status: 'active',
    source: 'checkout',
    joinedAt,
    joinedVia: 'sub_promise',
  });
  await countNewMember(app.deps, { memberId: String(member._id), email, joinedAt, source: 'checkout' });
  await checkpoint(app, campaign);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

async function signInLink(): Promise<string> {
  const res = await fetch(`${app.url}/account/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });
  expect(res.status).toBe(202);
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ template: 'account-sign-in', 'to.email': email })
    .sort({ createdAt: -1 })
    .lean();
  const link = new URL(String(job!.data.signInUrl));
  return `${app.url}${link.pathname}${link.search}`;
}

describe('the promise on the account and verify pages, in Chromium', () => {
  it('when a counted member opens their account, then it shows the signed promise, and its link opens the verify page saying the promise was kept', async () => {
    const context = await browser.newContext({ viewport: { width: 375, height: 800 } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(await signInLink());
    await Promise.all([page.waitForURL(`${app.url}/account`), page.getByRole('button').click()]);

    const promise = page.locator(`[data-promise-for="${campaign.slug}"]`);
    await promise.locator('summary').click();
    const text = (await promise.locator('pre').textContent()) ?? '';
    expect(text).toMatch(
      new RegExp(`^membership-drive promise v1\\norigin: members\\.test/drive/${campaign.slug}\\n`),
    );
    expect(text).toMatch(/\nmerge_by: \d{4}-\d\d-\d\dT[\d:.]+Z\n\n— members\.test\/drive\//);
    const noSideScroll = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(await noSideScroll()).toBe(true);
    await screenshot(page, 'account-promise');

    // The link names the public host; here the service listens on a test port.
    const href = (await page.locator(`[data-receipt-for="${campaign.slug}"] a`).getAttribute('href'))!;
    expect(href).toContain('#receipt=');
    expect(href).toContain('&promise=');
    await page.goto(href.replace('http://members.test', app.url));
    await expect
      .poll(() => page.locator('#outcome').getAttribute('data-result'), { timeout: 15_000 })
      .toBe('verified');
    expect((await page.locator('#promise').inputValue()).trim()).toBe(text.trim());
    expect(await page.locator('#promise-result').getAttribute('data-result')).toBe('kept');
    expect(await page.locator('#promise-result').textContent()).toContain('The newsroom kept its promise');
    expect(await page.locator('#receipt-result').getAttribute('data-result')).toBe('verified');
    for (const width of [320, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      expect(await noSideScroll()).toBe(true);
      await screenshot(page, 'drive-verify-promise');
    }
    expect(errors).toEqual([]);
    await context.close();
  });

  it('when someone pastes a promise of another log, then the page says it is not one of this log', async () => {
    const other = await newCampaign(app);
    await checkpoint(app, other);
    const page = await browser.newPage();
    await page.goto(`${app.url}/campaigns/${other.slug}/verify`);
    await expect
      .poll(() => page.locator('#outcome').getAttribute('data-result'), { timeout: 15_000 })
      .toBe('verified');
    // The promise of the first campaign's entry, as the account page shows it.
    const member = (await membershipModels(app.deps.db).Member.findOne({ email }).lean())!;
    const found = await receiptOf(app.deps.db, campaign._id, `${campaign._id}:member:${member._id}`);
    await page.fill('#promise', found!.promise!);
    await page.click('button[type="submit"]');
    await expect
      .poll(() => page.locator('#promise-result').getAttribute('data-result'), { timeout: 15_000 })
      .toBe('invalid');
    expect(await page.locator('#problems').textContent()).toContain('the promise is for another log');
    await page.close();
  });
});
