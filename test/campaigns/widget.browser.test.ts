import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { launchChromium, screenshot, startHostSite, watchErrors } from '../support/browser.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { checkpoint } from '../transparency/support.js';

let app: TestApp;
let browser: Browser;
let site: Awaited<ReturnType<typeof startHostSite>>;

// The news site's own CSS, hostile on purpose: none of it may reach the widget.
const HOSTILE_CSS = `
  * { color: rgb(255, 0, 0) !important; font-family: "Comic Sans MS", cursive !important; }
  a { display: none !important; }
  [role=progressbar], .bar, h2 { display: none !important; }`;

beforeAll(async () => {
  app = await startTestApp({
    config: testConfig({ PROGRESS_CACHE_SECONDS: '0' }),
    deps: { clock: { now: () => new Date() } },
  });
  const now = Date.now();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    goal: 1000,
    startsAt: new Date(now - 20 * 86_400_000),
    endsAt: new Date(now + 9 * 86_400_000 - 60_000),
    timeZone: 'Europe/Kyiv',
    startingOffset: 612,
  });
  site = await startHostSite({
    '/article': `<!doctype html><html lang="en"><head><title>Article</title><style>${HOSTILE_CSS}</style></head><body>
      <h1>Our reporting this week</h1>
      <membership-goal campaign="birthday" refresh-interval="1"></membership-goal>
      <div data-membership-goal="birthday" locale="uk" id="uk"></div>
      <script src="${app.url}/widget.js" async></script>
    </body></html>`,
    '/unknown-campaign': `<!doctype html><html lang="en"><head><title>Typo</title></head><body>
      <membership-goal campaign="birthdya"></membership-goal>
      <script src="${app.url}/widget.js" async></script>
    </body></html>`,
    '/newsletter-archive': `<!doctype html><html lang="en"><head><title>No scripts</title></head><body>
      <iframe src="${app.url}/campaigns/birthday/widget" title="Membership goal" width="520" height="230" style="border:0"></iframe>
      <img id="svg" src="${app.url}/campaigns/birthday/progress.svg" alt="Progress toward our goal">
    </body></html>`,
  });
  browser = await launchChromium();
});
/** The campaign's latest signed checkpoint as progress states it. */
const signedCheckpoint = async () =>
  (
    (await (await fetch(`${app.url}/campaigns/birthday/progress`)).json()) as {
      checkpoint: { sequence: number; size: number; root: string; count: number } | null;
    }
  ).checkpoint;

async function signNextCheckpoint() {
  const campaign = await campaignModels(app.deps.db).Campaign.findOne({ slug: 'birthday' }).lean<Campaign>();
  await checkpoint(app, campaign!);
  return (await signedCheckpoint())!;
}

/** What a screen reader is told about a link besides its name: its computed accessible description. */
async function accessibleDescription(page: Page, link: Locator): Promise<string | undefined> {
  const name = (await link.textContent())!;
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
    nodes: { role?: { value: string }; name?: { value: string }; description?: { value: string } }[];
  };
  await cdp.detach();
  return nodes.find((n) => n.role?.value === 'link' && n.name?.value === name)?.description?.value;
}

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await app?.close();
});

describe('the script widget on another origin', () => {
  it('renders the numbers, accessible progress bar and links, untouched by the page CSS, and refreshes', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 }, reducedMotion: 'reduce' });
    const errors = watchErrors(page);
    await page.goto(`${site.url}/article`);

    const widget = page.locator('membership-goal[campaign="birthday"]').first();
    await expect
      .poll(() => widget.locator('.count').textContent(), { timeout: 10_000 })
      .toBe('612 of 1,000 new members · 61%');
    await expect.poll(() => widget.locator('.days').textContent()).toBe('9 days left');

    const bar = widget.locator('[role="progressbar"]');
    expect(await bar.getAttribute('aria-valuenow')).toBe('612');
    expect(await bar.getAttribute('aria-valuemin')).toBe('0');
    expect(await bar.getAttribute('aria-valuemax')).toBe('1000');
    expect(await bar.getAttribute('aria-valuetext')).toBe('612 of 1,000 new members (61%)');
    // The join link says where the reader came from: this page (no query string) and the widget.
    expect(await widget.locator('a.join').getAttribute('href')).toBe(
      `${app.url}/membership?campaign=birthday&locale=en&${new URLSearchParams({ placement: 'widget', page: `${site.url}/article` })}`,
    );
    expect(await widget.locator('a.gift').getAttribute('href')).toBe(
      `${app.url}/gifts?campaign=birthday&locale=en`,
    );
    expect(await widget.locator('a.join').textContent()).toBe('Become a member');

    // The host's hostile rules reach neither colours, fonts nor visibility inside the widget.
    const style = await widget.locator('h2').evaluate((el) => {
      const s = getComputedStyle(el);
      return { color: s.color, font: s.fontFamily, display: s.display };
    });
    expect(style.color).toBe('rgb(24, 24, 27)');
    expect(style.font).not.toContain('Comic Sans');
    expect(style.display).toBe('block');
    expect(await widget.locator('a.join').isVisible()).toBe(true);
    expect(await bar.isVisible()).toBe(true);

    // Ukrainian, from the data-attribute embed.
    const uk = page.locator('#uk membership-goal');
    await expect.poll(() => uk.locator('.count').textContent()).toMatch(/^612 з 1\s000 нових членів · 61%$/);
    expect(await uk.locator('a.join').textContent()).toBe('Стати членом спільноти');
    await screenshot(page, 'widget-script');

    // Which checkpoint the number comes from (src/campaigns/README.md, "What each embed says about
    // the log"). None is signed yet: the widget claims none, in each language.
    const count = widget.locator('a.count');
    expect(await count.getAttribute('href')).toBe(`${app.url}/campaigns/birthday/verify`);
    const noCheckpoint =
      'The drive log has no signed checkpoint yet: this count can be checked once the first is signed.';
    expect(await count.getAttribute('title')).toBe(noCheckpoint);
    expect(await accessibleDescription(page, count)).toBe(noCheckpoint);
    expect(await widget.getAttribute('data-checkpoint-size')).toBeNull();
    expect(await uk.locator('a.count').getAttribute('title')).toBe(
      'Журнал кампанії ще не має підписаної контрольної точки: перевірити цю кількість можна буде після першої.',
    );
    // Once one is signed, the widget names it at its next refresh, and the number is its count.
    const signed = await signNextCheckpoint();
    await expect
      .poll(() => widget.getAttribute('data-checkpoint-root'), { timeout: 10_000 })
      .toBe(signed.root);
    expect(await widget.getAttribute('data-checkpoint-size')).toBe('1'); // the starting offset's leaf
    expect(await widget.getAttribute('data-checkpoint-sequence')).toBe('0');
    expect(await count.getAttribute('title')).toBe(
      'Signed checkpoint 0 of the drive log: count 612, log size 1.',
    );
    expect(await count.textContent()).toBe('612 of 1,000 new members · 61%');

    // A new member joins; the widget shows it at its next refresh (every second here).
    const member = await membershipModels(app.deps.db).Member.create({
      email: 'new@example.com',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date(),
      joinedVia: 'sub_new',
    });
    await app.deps.events.publish('member.joined', {
      memberId: String(member._id),
      email: member.email,
      joinedAt: member.joinedAt,
      source: 'checkout',
    });
    await expect
      .poll(() => widget.locator('.count').textContent(), { timeout: 10_000 })
      .toBe('613 of 1,000 new members · 61%');
    expect(await bar.getAttribute('aria-valuenow')).toBe('613');
    // The join is shown before a checkpoint signs it, and the widget says so.
    const since =
      'Signed checkpoint 0 of the drive log: count 612, log size 1. Since then: +1, not yet signed.';
    expect(await count.getAttribute('title')).toBe(since);
    expect(await accessibleDescription(page, count)).toBe(since);
    expect(await widget.getAttribute('data-pending')).toBe('1');
    expect(await widget.getAttribute('data-checkpoint-root')).toBe(signed.root);
    await screenshot(page, 'widget-script-after-new-member');

    // Each of the page's two widgets told the funnel it was seen, once (not at every refresh).
    const views = () =>
      app.deps.db
        .collection('tally_marks')
        .countDocuments({ _id: { $regex: '^funnel:birthday:.*:widget:view:' } as never });
    await expect.poll(views).toBe(2);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('a widget naming a campaign that does not exist', () => {
  it('when the campaign is unknown, then the widget says so (no empty buttons) and the browser reports no CORS error', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 400 }, reducedMotion: 'reduce' });
    const errors = watchErrors(page);
    await page.goto(`${site.url}/unknown-campaign`);
    const widget = page.locator('membership-goal');
    await expect
      .poll(() => widget.locator('.error').textContent(), { timeout: 10_000 })
      .toBe('This campaign was not found. Check the campaign name in the embed code.');
    expect(await widget.locator('.error').isVisible()).toBe(true);
    expect(await widget.locator('a.join').isVisible()).toBe(false);
    expect(await widget.locator('a.gift').isVisible()).toBe(false);
    expect(await widget.locator('[role="progressbar"]').isVisible()).toBe(false);
    await screenshot(page, 'widget-unknown-campaign');
    // The 404 itself is logged by the browser; a CORS refusal would be logged as well.
    expect(errors.filter((e) => /CORS|Access-Control/i.test(e))).toEqual([]);
    expect(errors.every((e) => e.includes('404'))).toBe(true);
    await page.close();
  });
});

describe('embeds without third-party script', () => {
  it('renders the iframe widget and the SVG image', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 600 }, reducedMotion: 'reduce' });
    const errors = watchErrors(page);
    const signed = await signNextCheckpoint(); // it covers every join: nothing pending
    await page.goto(`${site.url}/newsletter-archive`);
    const frame = page.frameLocator('iframe[title="Membership goal"]');
    await expect
      .poll(() => frame.locator('[role="progressbar"]').getAttribute('aria-valuenow'), { timeout: 10_000 })
      .toMatch(/^61[23]$/);
    expect(await frame.locator('a.join').getAttribute('target')).toBe('_top');
    // The framed card names the checkpoint as the script widget does, and links to the verify page.
    const goal = frame.locator('membership-goal');
    expect(await goal.getAttribute('data-checkpoint-root')).toBe(signed.root);
    expect(await goal.getAttribute('data-checkpoint-size')).toBe(String(signed.size));
    expect(await goal.getAttribute('data-pending')).toBe('0');
    const count = frame.locator('a.count');
    expect(await count.getAttribute('title')).toBe(
      `Signed checkpoint ${signed.sequence} of the drive log: count ${signed.count}, log size ${signed.size}.`,
    );
    expect(await count.evaluate((a: HTMLAnchorElement) => [a.href, a.target])).toEqual([
      `${app.url}/campaigns/birthday/verify`,
      '_top',
    ]);

    await expect
      .poll(() => page.locator('#svg').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBe(480);
    await screenshot(page, 'widget-iframe-and-svg');
    expect(errors).toEqual([]);
    await page.close();
  });
});
