import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { launchChromium, screenshot, startHostSite, watchErrors } from '../support/browser.js';
import { consolePage } from '../support/console.js';
import { addSupporters } from '../support/supporters.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  await addSupporters(app.deps.db, 2); // the preview's supporters line is left out at 0
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('campaigns in the console, in Chromium', () => {
  it('when an editor creates a campaign and pastes its snippet into a page of another origin, then that page shows the campaign', async () => {
    const page = await consolePage(browser, app.url, app.deps.db, 'editor');
    const errors = watchErrors(page);
    // An editor's menu: the overview and campaigns, nothing about money or members.
    expect(await page.locator('header nav a').allTextContents()).toEqual(['Drive overview', 'Campaigns']);

    await page.click('header nav a:text-is("Campaigns")');
    await page.click('a:text-is("New campaign")');
    await page.fill('#title', 'Winter drive');
    await page.fill('#slug', 'winter-drive');
    await page.fill('#goal', 'a thousand');
    const start = new Date(Date.now() - 86_400_000).toISOString().slice(0, 16);
    const end = new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 16);
    await page.fill('#startsAt', start);
    await page.fill('#endsAt', end);
    await page.click('button:text-is("Create campaign")');
    // A goal that is not a number: the form again, the message by the field, what was typed kept.
    expect(await page.textContent('#goal-error')).toBe('Enter a whole number, like 1000.');
    expect(await page.getAttribute('#goal', 'aria-describedby')).toContain('goal-error');
    expect(await page.inputValue('#title')).toBe('Winter drive');
    errors.length = 0; // Chromium logs the 422 answer itself as a failed resource
    await page.fill('#goal', '500');
    await page.click('button:text-is("Create campaign")');
    await page.waitForURL(/\/console\/campaigns\/winter-drive\?created=1$/);
    expect(await page.textContent('[role=status]')).toBe('Campaign created.');
    const stored = await campaignModels(app.deps.db).Campaign.findOne({ slug: 'winter-drive' }).lean();
    expect(stored).toMatchObject({
      title: 'Winter drive',
      goal: 500,
      timeZone: 'UTC',
      milestones: [25, 50, 75, 100],
    });
    expect(stored?.startsAt.toISOString().slice(0, 16)).toBe(start);

    // The live preview shows the widget from the start.
    await expect
      .poll(() =>
        page.locator('#preview-widget').evaluate((el) => el.shadowRoot?.querySelector('h2')?.textContent),
      )
      .toBe('Winter drive');
    // Changing an option updates the preview and the snippet without a reload.
    await page.selectOption('#opt-locale', 'uk');
    await page.check('input[name=supporters]');
    await expect.poll(() => page.inputValue('#snippet-widget')).toContain('locale="uk" show-supporters');
    await expect
      .poll(() =>
        page
          .locator('#preview-widget')
          .evaluate((el) => el.shadowRoot?.querySelector('.supporters')?.textContent),
      )
      .toMatch(/^Усе завдяки \d+ прихильник/);
    await screenshot(page, 'console-campaign');

    // Copy the snippet and paste it into a page on another origin.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    await page.click('button[data-copy="snippet-widget"]');
    const snippet = await page.evaluate(() => navigator.clipboard.readText());
    expect(snippet).toBe(await page.inputValue('#snippet-widget'));
    expect(snippet).toContain(`<script src="${app.url}/widget.js" async></script>`);
    const host = await startHostSite({
      '/': `<!doctype html><html lang="en"><head><title>News</title></head><body><h1>Our news</h1>${snippet}</body></html>`,
    });
    const reader = await browser.newPage();
    const readerErrors = watchErrors(reader);
    await reader.goto(host.url);
    await expect
      .poll(() =>
        reader.locator('membership-goal').evaluate((el) => el.shadowRoot?.querySelector('h2')?.textContent),
      )
      .toBe('Winter drive');
    expect(
      await reader
        .locator('membership-goal')
        .evaluate((el) => el.shadowRoot?.querySelector('.count')?.textContent),
    ).toBe('0 з 500 нових членів · 0%');
    await screenshot(reader, 'host-page-with-snippet');
    expect(readerErrors).toEqual([]);
    await reader.close();
    await host.close();

    // Editing changes only what was changed; ending stops the campaign.
    await page.goto(`${app.url}/console/campaigns/winter-drive`);
    await page.fill('#goal', '800');
    await page.click('button:text-is("Save changes")');
    await page.waitForURL(/\?saved=1$/);
    const edited = await campaignModels(app.deps.db).Campaign.findOne({ slug: 'winter-drive' }).lean();
    expect(edited).toMatchObject({ goal: 800, title: 'Winter drive' });
    expect(edited?.startsAt.getTime()).toBe(stored?.startsAt.getTime());
    await page.click('button:text-is("End the campaign now")');
    await page.waitForURL(/\/console\/campaigns\?ended=winter-drive$/);
    expect(await page.textContent('tr[data-campaign="winter-drive"] td:nth-child(2)')).toBe('ended');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('when a colleague saved a new goal after an editor opened the form, then the editor saving a title sees the conflict and the goal stays', async () => {
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'two-tabs',
      title: 'Spring drive',
      goal: 500,
      startsAt: new Date(Date.now() - 86_400_000),
      endsAt: new Date(Date.now() + 20 * 86_400_000),
      timeZone: 'UTC',
    });
    const a = await consolePage(browser, app.url, app.deps.db, 'editor');
    const b = await consolePage(browser, app.url, app.deps.db, 'admin');
    await a.goto(`${app.url}/console/campaigns/two-tabs`);
    await b.goto(`${app.url}/console/campaigns/two-tabs`);

    await b.fill('#goal', '600');
    await b.click('button:text-is("Save changes")');
    await b.waitForURL(/\?saved=1$/);

    await a.fill('#title', 'Spring drive 2027');
    const refused = a.waitForResponse((r) => r.request().method() === 'POST');
    await a.click('button:text-is("Save changes")');
    expect((await refused).status()).toBe(409);
    await a.waitForLoadState();
    const stored = () => campaignModels(app.deps.db).Campaign.findOne({ slug: 'two-tabs' }).lean();
    expect(await stored()).toMatchObject({ title: 'Spring drive', goal: 600 });
    // The colleague's goal and the editor's title, each marked, in one form on the current version.
    expect(await a.textContent('[role=alert]')).toContain('A colleague saved this campaign');
    expect(await a.inputValue('#goal')).toBe('600');
    expect(await a.textContent('#goal-note')).toBe('Changed by a colleague to “600” (it was “500”).');
    expect(await a.inputValue('#title')).toBe('Spring drive 2027');
    expect(await a.textContent('#title-note')).toBe('Your change, not saved yet (it is “Spring drive” now).');
    expect(await a.getAttribute('#goal', 'aria-describedby')).toContain('goal-note');
    await screenshot(a, 'console-campaign-conflict');

    await a.click('button:text-is("Save changes")');
    await a.waitForURL(/\?saved=1$/);
    expect(await stored()).toMatchObject({ title: 'Spring drive 2027', goal: 600 });
    await a.close();
    await b.close();
  });

  it('when an editor opens member lookup, then a page says who may use it and shows no member data', async () => {
    const page = await consolePage(browser, app.url, app.deps.db, 'editor');
    const answer = await page.goto(`${app.url}/console/members?q=someone@example.com`);
    expect(answer?.status()).toBe(403);
    expect(await page.textContent('h1')).toBe('This part of the console is not for your role');
    expect(await page.textContent('[role=alert]')).toContain('It is for: admin, finance');
    await page.close();
  });
});
