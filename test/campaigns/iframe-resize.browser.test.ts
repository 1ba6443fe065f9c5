import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { embedOptions, embedSnippets } from '../../src/campaigns/embed-snippets.js';
import { launchChromium, screenshot, startHostSite, watchErrors } from '../support/browser.js';
import { addSupporters } from '../support/supporters.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The iframe snippet as a newsroom pastes it, on a news site of another origin: the iframe must take
// the height of its content at any width, in the longer language, with large text, and must take a
// height from no one but the members service.

let app: TestApp;
let browser: Browser;
let site: Awaited<ReturnType<typeof startHostSite>>;
let stranger: Awaited<ReturnType<typeof startHostSite>>;

const LONG_TITLE =
  'Тисяча нових членів до десятого дня народження редакції: незалежна журналістика, яку оплачують читачі';

beforeAll(async () => {
  app = await startTestApp({
    config: testConfig({ PROGRESS_CACHE_SECONDS: '0' }),
    deps: { clock: { now: () => new Date() } },
  });
  const now = Date.now();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: LONG_TITLE,
    goal: 1000,
    startsAt: new Date(now - 20 * 86_400_000),
    endsAt: new Date(now + 9 * 86_400_000),
    timeZone: 'Europe/Kyiv',
    startingOffset: 612,
  });
  await addSupporters(app.deps.db, 3); // the supporters line is left out at 0
  // A page of a third origin that claims a height for itself, as a hostile ad frame could.
  stranger = await startHostSite({
    '/ad': `<!doctype html><html><body><script>
      setInterval(function () { parent.postMessage({ type: 'membership-drive:height', height: 1500 }, '*'); }, 50);
    </script></body></html>`,
  });
  const snippet = embedSnippets(app.url, 'birthday', embedOptions({ locale: 'uk', supporters: '1' })).iframe;
  site = await startHostSite({
    '/article': `<!doctype html><html lang="uk"><head><meta name="viewport" content="width=device-width, initial-scale=1">
      <title>Стаття</title></head><body style="margin:0;padding:0 8px">
      <h1>Наші новини</h1>
      ${snippet}
      <iframe id="ad" src="${stranger.url}/ad" title="Реклама" width="300" height="150" style="border:0"></iframe>
    </body></html>`,
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await stranger?.close();
  await app?.close();
});

const widgetFrame = (page: Page): Frame =>
  page.frames().find((f) => f.url().startsWith(`${app.url}/campaigns/birthday/widget`))!;

/** The iframe's height, the framed document's scroll height and its content's height, in CSS px. */
async function heights(page: Page) {
  const iframe = await page.$eval('iframe[src*="/campaigns/birthday/widget"]', (el) => el.clientHeight);
  const inside = await widgetFrame(page).evaluate(() => ({
    scroll: document.documentElement.scrollHeight,
    content: Math.ceil(document.body.getBoundingClientRect().height),
  }));
  return { iframe, ...inside };
}

/** Every link in the widget (its buttons and the count's link to the verify page), relative to the iframe's viewport. */
function buttonsInside(frame: Frame) {
  return frame.evaluate(() => {
    return Array.from(document.querySelectorAll('membership-goal a')).map((a) => {
      const r = a.getBoundingClientRect();
      return {
        text: a.textContent,
        inside: r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth,
      };
    });
  });
}

async function openArticle(viewport: { width: number; height: number }) {
  const page = await browser.newPage({ viewport, reducedMotion: 'reduce' });
  const errors = watchErrors(page);
  await page.goto(`${site.url}/article`);
  await expect
    .poll(
      () =>
        widgetFrame(page)?.evaluate(() => document.querySelector('membership-goal .supporters')?.textContent),
      { timeout: 15_000 },
    )
    .toMatch(/^Усе завдяки \d+ прихильник/);
  return { page, errors };
}

async function expectFitted(page: Page) {
  await expect
    .poll(
      async () => {
        const h = await heights(page);
        return h.iframe === h.scroll && h.content <= h.iframe;
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  const buttons = await buttonsInside(widgetFrame(page));
  expect(buttons).toHaveLength(3);
  expect(
    buttons.every((b) => b.inside),
    JSON.stringify(buttons),
  ).toBe(true);
  return heights(page);
}

describe('the iframe snippet on a news site', () => {
  it('when a phone 360 px wide shows it in Ukrainian with the supporters line, then the iframe is exactly as tall as its content, and grows with larger text', async () => {
    const { page, errors } = await openArticle({ width: 360, height: 640 });
    const fitted = await expectFitted(page);
    // Taller than the old fixed 190 px, which cut off "Подарувати членство".
    expect(fitted.iframe).toBeGreaterThan(190);
    await screenshot(page, 'embed-iframe-phone-uk');

    // The reader's larger text (as a phone's text-size setting zooms it): the frame follows.
    await widgetFrame(page).evaluate(() => {
      document.body.style.zoom = '1.5';
    });
    const larger = await expectFitted(page);
    expect(larger.iframe).toBeGreaterThan(fitted.iframe);
    await screenshot(page, 'embed-iframe-phone-uk-large-text');

    // The stranger's frame asked for 1,500 px all along: ignored, it keeps its own height.
    expect(await page.$eval('#ad', (el) => el.clientHeight)).toBe(150);
    // So is a message the host page itself sends.
    await page.evaluate(() => window.postMessage({ type: 'membership-drive:height', height: 5 }, '*'));
    await page.waitForTimeout(300);
    expect((await heights(page)).iframe).toBe(larger.iframe);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('when a desktop shows it, then it is as tall as its content there too, and a height is never taken beyond the bound', async () => {
    const { page, errors } = await openArticle({ width: 1280, height: 800 });
    const fitted = await expectFitted(page);
    expect(fitted.iframe).toBeLessThan(300); // the snippet's fallback height shrinks to the content
    await screenshot(page, 'embed-iframe-desktop-uk');

    // Even the service's own frame cannot make the host page endlessly tall.
    await widgetFrame(page).evaluate(() =>
      window.parent.postMessage({ type: 'membership-drive:height', height: 1e9 }, '*'),
    );
    await expect.poll(() => heights(page).then((h) => h.iframe)).toBe(2000);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
