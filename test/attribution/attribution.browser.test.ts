import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { launchChromium, screenSize, startHostSite, watchErrors } from '../support/browser.js';
import { staffToken } from '../support/staff.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// Where members come from, in a browser (src/attribution/README.md): a news site on another origin
// embeds the goal widget and the membership button; a reader arrives from a newsletter with UTM
// tags in the address and a referrer. The join links carry the page, the placement, the referrer
// and the tags on to the hosted page; clicking them sends a click beacon as the page goes away;
// the funnel report counts the views and clicks per placement, and its records keep nothing of
// the reader (no address, IP or cookie).

const DAY = '2026-11-27'; // the test app's clock stands at 2026-11-27 12:00 UTC
const UTM = { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'weekly' };
const READER_COOKIE = 'reader=someone%40example.com';

let app: TestApp;
let browser: Browser;
let site: Awaited<ReturnType<typeof startHostSite>>;

// One campaign per width, so each width's funnel is its own.
const scenarios = [
  { width: 375, campaign: 'spring-phone', arrives: 'from the site’s front page' },
  { width: 1280, campaign: 'spring-desktop', arrives: 'from a link on t.co' },
] as const;

const articlePath = (campaign: string) => `/${campaign}/article?${new URLSearchParams(UTM)}`;

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ TIME_ZONE: 'UTC' }) });
  const pages: Record<string, string> = {};
  for (const { campaign } of scenarios) {
    await campaignModels(app.deps.db).Campaign.create({
      slug: campaign,
      title: 'Spring drive',
      goal: 100,
      startsAt: new Date('2026-11-01T00:00:00Z'),
      endsAt: new Date('2026-12-31T00:00:00Z'),
      timeZone: 'UTC',
    });
    // The host serves its pages by exact path; the article is asked for with its UTM tags.
    pages[`/${campaign}/`] = `<!doctype html><html lang="en"><head><title>News</title></head><body>
      <a id="story" href="${articlePath(campaign)}">Our story of the week</a></body></html>`;
    pages[articlePath(campaign)] = `<!doctype html><html lang="en"><head><title>Story</title></head><body>
      <h1>Our story of the week</h1>
      <membership-goal campaign="${campaign}"></membership-goal>
      <p>The story goes on.</p>
      <script src="${app.url}/embed/membership-button.js" data-campaign="${campaign}" data-placement="article-end" async></script>
      <script src="${app.url}/widget.js" async></script>
    </body></html>`;
  }
  site = await startHostSite(pages);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await app?.close();
});

/** The page's join link (widget) and button link, once the widget has its numbers. */
async function links(page: Page) {
  const join = page.locator('membership-goal a.join');
  await expect.poll(() => join.getAttribute('href'), { timeout: 5_000 }).toMatch(/\/membership\?/);
  const button = page.locator('a[data-membership-button]');
  return { join, button };
}

/** The hosted page's hidden fields, once the click has brought the reader there. */
async function hostedFields(page: Page): Promise<Record<string, string>> {
  await page.waitForURL(`${app.url}/membership?**`);
  const inputs = page.locator('form input[type="hidden"]');
  return Object.fromEntries(
    await inputs.evaluateAll((els) =>
      els.map((el) => [(el as HTMLInputElement).name, (el as HTMLInputElement).value]),
    ),
  );
}

let authorization: string | undefined;
async function funnel(campaign: string) {
  authorization ??= (await staffToken(app.url, app.deps.db, 'finance')).authorization;
  const res = await fetch(`${app.url}/reports/funnel?campaign=${campaign}&from=${DAY}&to=${DAY}`, {
    headers: { authorization },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    total: Record<string, number>;
    byPlacement: { placement: string; view: number; click: number; started: number; paid: number }[];
  };
}

describe.each(scenarios)('a reader at $width px arriving $arrives', ({ width, campaign }) => {
  it('when they open the article, then the join links carry the page, placement, referrer and UTM tags; when they click each, then the hosted page has them and the funnel counts views and clicks per placement', async () => {
    const context = await browser.newContext({ viewport: screenSize(width), reducedMotion: 'reduce' });
    // A cookie the app's host would receive with every beacon: the funnel must not keep it.
    await context.addCookies([{ name: 'reader', value: 'someone%40example.com', url: app.url }]);
    const page = await context.newPage();
    const errors = watchErrors(page);
    const beacons: { query: Record<string, string>; cookie: Promise<string | null> }[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === '/attribution/events')
        beacons.push({ query: Object.fromEntries(url.searchParams), cookie: request.headerValue('cookie') });
    });
    const article = `${site.url}${articlePath(campaign)}`;
    const arrive = async () => {
      if (width < 600) {
        // From the host's front page: document.referrer is that page.
        await page.goto(`${site.url}/${campaign}/`);
        await page.click('#story');
        await page.waitForURL(article);
      } else {
        await page.goto(article, { referer: 'https://t.co/AbC123?amp=1' });
      }
    };
    const referrer = width < 600 ? `${site.url}/${campaign}/` : 'https://t.co/AbC123';

    await arrive();
    const { join, button } = await links(page);
    const expected = { page: `${site.url}/${campaign}/article`, referrer, ...UTM };
    const joinHref = new URL((await join.getAttribute('href'))!);
    expect(joinHref.origin + joinHref.pathname).toBe(`${app.url}/membership`);
    expect(Object.fromEntries(joinHref.searchParams)).toEqual({
      campaign,
      locale: 'en',
      placement: 'widget',
      ...expected,
    });
    const buttonHref = new URL((await button.getAttribute('href'))!);
    expect(buttonHref.origin + buttonHref.pathname).toBe(`${app.url}/membership`);
    expect(Object.fromEntries(buttonHref.searchParams)).toEqual({
      campaign,
      locale: 'en',
      placement: 'article-end',
      ...expected,
    });

    // The widget's join link: the reader lands on the hosted page, which carries it all on.
    await join.click();
    expect(await hostedFields(page)).toEqual({ locale: 'en', campaign, placement: 'widget', ...expected });

    // Back to the article (a second view of both), then the button.
    await arrive();
    await links(page); // the widget has rendered, so its second view is sent before the page goes
    await page.locator('a[data-membership-button]').click();
    expect(await hostedFields(page)).toEqual({
      locale: 'en',
      campaign,
      placement: 'article-end',
      ...expected,
    });

    // The beacons went as the pages unloaded; the report counts them per placement.
    await expect
      .poll(async () => (await funnel(campaign)).total, { timeout: 5_000 })
      .toEqual({ view: 4, click: 2, started: 0, paid: 0 });
    expect((await funnel(campaign)).byPlacement).toEqual(
      expect.arrayContaining([
        { placement: 'widget', view: 2, click: 1, started: 0, paid: 0 },
        { placement: 'article-end', view: 2, click: 1, started: 0, paid: 0 },
      ]),
    );
    // What the page sent: only the event, the campaign and the placement, and no cookie, though the
    // browser holds one for the service (sendBeacon would send it). A beacon sent as the page goes
    // away has no headers playwright can read; those the test can read must all be without it.
    expect(beacons.map((b) => b.query)).toEqual(
      expect.arrayContaining([
        { event: 'view', campaign, placement: 'widget' },
        { event: 'click', campaign, placement: 'widget' },
        { event: 'view', campaign, placement: 'article-end' },
        { event: 'click', campaign, placement: 'article-end' },
      ]),
    );
    expect(beacons.length).toBe(6);
    const cookies = await Promise.all(beacons.map((b) => b.cookie));
    expect(cookies.filter((c) => c?.includes('reader='))).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('the funnel’s records after readers clicked', () => {
  it('when they are read, then none holds a reader’s address, IP, cookie or page', async () => {
    const db = app.deps.db;
    const marks = await db
      .collection('tally_marks')
      .find({ _id: { $regex: '^funnel:' } as never })
      .toArray();
    expect(marks.length).toBe(scenarios.length * (4 + 2));
    const stored = JSON.stringify([...marks, ...(await db.collection('funnel_placements').find().toArray())]);
    expect(stored).not.toContain('someone');
    expect(stored).not.toContain(READER_COOKIE);
    expect(stored).not.toContain('@');
    expect(stored).not.toContain('127.0.0.1'); // the reader's address, and the host page's
    expect(stored).not.toMatch(/::ffff|::1/);
    expect(stored).not.toContain('t.co');
    expect(stored).not.toContain('utm');
    expect(stored).not.toContain('newsletter');
  });
});
