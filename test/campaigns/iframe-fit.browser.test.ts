import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { updateCampaign } from '../../src/campaigns/campaign-admin.js';
import { embedOptions, embedSnippets } from '../../src/campaigns/embed-snippets.js';
import { launchChromium, screenshot, startHostSite, watchErrors } from '../support/browser.js';
import { consolePage } from '../support/console.js';
import { addSupporters } from '../support/supporters.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { checkpoint } from '../transparency/support.js';

// The iframe snippet, every option on (language, accent, supporters line, theme), pasted on a news
// site of another origin, light or dark, on a small phone, a phone and a desktop: every button
// whole, nothing painted around the card, text readable on the card, and the count there with
// JavaScript off. Screenshots: test-results/screenshots/embed-iframe-<width>-<host>-<locale>.png.

let app: TestApp;
let browser: Browser;
let site: Awaited<ReturnType<typeof startHostSite>>;
let pixels: Page;
// One page with JavaScript and one without, each sized and given its system setting per test:
// not two new browser contexts (and their renderers) per test.
let page: Page;
let errors: string[];
let still: Page;

const ACCENT = '#0b6e4f';
const SIZES = [
  { width: 320, height: 640 },
  { width: 375, height: 812 },
  { width: 1280, height: 800 },
];
// The light host declares no colour scheme (as most sites); the dark one declares it.
const HOSTS = {
  light: { background: 'rgb(255, 255, 255)', head: '', body: 'background:#ffffff;color:#111111' },
  dark: {
    background: 'rgb(16, 20, 24)',
    head: '<meta name="color-scheme" content="dark">',
    body: 'background:#101418;color:#eeeeee',
  },
} as const;
type Host = keyof typeof HOSTS;
type Locale = 'en' | 'uk';

function hostPage(host: Host, locale: Locale, theme = 'auto') {
  const snippet = embedSnippets(
    app.url,
    'birthday',
    embedOptions({ locale, accent: ACCENT, supporters: '1', theme }),
  ).iframe;
  return `<!doctype html><html lang="${locale}"><head><meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">${HOSTS[host].head}
    <title>News</title></head><body style="margin:0;padding:0 8px;${HOSTS[host].body}">
    <h1 style="margin:8px 0;font-size:20px">News</h1>
    ${snippet}
    <p>After the embed.</p></body></html>`;
}

beforeAll(async () => {
  app = await startTestApp({
    config: testConfig({ PROGRESS_CACHE_SECONDS: '0' }),
    deps: { clock: { now: () => new Date() } },
  });
  const now = Date.now();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: 'Тисяча нових членів до дня народження редакції',
    goal: 1000,
    startsAt: new Date(now - 20 * 86_400_000),
    endsAt: new Date(now + 9 * 86_400_000),
    timeZone: 'Europe/Kyiv',
    startingOffset: 612,
  });
  await addSupporters(app.deps.db, 3); // the line is left out at 0
  const pages: Record<string, string> = {};
  for (const host of ['light', 'dark'] as const) {
    for (const locale of ['en', 'uk'] as const) pages[`/${host}-${locale}`] = hostPage(host, locale);
  }
  // The snippet's own theme against the host: dark on a light page, light on a dark one.
  pages['/light-themed-dark'] = hostPage('light', 'en', 'dark');
  pages['/dark-themed-light'] = hostPage('dark', 'uk', 'light');
  site = await startHostSite(pages);
  browser = await launchChromium();
  pixels = await browser.newPage();
  page = await browser.newPage();
  errors = watchErrors(page);
  still = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await app?.close();
});

const widgetFrame = (page: Page): Frame | undefined =>
  page.frames().find((f) => f.url().startsWith(`${app.url}/campaigns/birthday/widget`));

type Rgb = [number, number, number];

/** The colours of a PNG at the given points, decoded by the browser. */
async function colorsAt(png: Buffer, points: Array<[number, number]>): Promise<Rgb[]> {
  return pixels.evaluate(
    async ({ data, points }) => {
      const image = new Image();
      image.src = `data:image/png;base64,${data}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      return points.map(([x, y]) => {
        const [r, g, b] = context.getImageData(x, y, 1, 1).data;
        return [r, g, b] as Rgb;
      });
    },
    { data: png.toString('base64'), points },
  );
}

const rgbText = ([r, g, b]: Rgb) => `rgb(${r}, ${g}, ${b})`;

/** Each text of the card, its colour and the colour it is painted on (computed styles). */
function cardTexts(frame: Frame) {
  return frame.evaluate(() => {
    const parse = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const backdrop = (el: Element | null): number[] => {
      for (; el; el = el.parentElement) {
        const bg = parse(getComputedStyle(el).backgroundColor);
        if (bg.length === 3 || (bg.length === 4 && bg[3]! > 0)) return bg.slice(0, 3);
      }
      return [255, 255, 255];
    };
    return Array.from(
      document.querySelectorAll('membership-goal :is(h2, .count, .days, .supporters, a)'),
    ).map((el) => ({
      text: el.textContent ?? '',
      color: parse(getComputedStyle(el).color).slice(0, 3),
      background: backdrop(el),
    }));
  });
}

function contrast(a: number[], b: number[]): number {
  const lum = (c: number[]) => {
    const [r, g, b2] = c.map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b2!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** Every link of the card (its two buttons and the count's link to the verify page): inside the iframe's viewport and the page's. */
async function clippedButtons(page: Page, frame: Frame) {
  const box = (await (await frame.frameElement()).boundingBox())!;
  const viewport = page.viewportSize()!;
  const links = await frame.evaluate(() =>
    Array.from(document.querySelectorAll('membership-goal a')).map((a) => {
      const r = a.getBoundingClientRect();
      return { text: a.textContent, top: r.top, left: r.left, bottom: r.bottom, right: r.right };
    }),
  );
  expect(links).toHaveLength(3);
  return links.filter(
    (l) =>
      l.top < 0 ||
      l.left < 0 ||
      l.bottom > box.height ||
      l.right > box.width ||
      box.y + l.top < 0 ||
      box.x + l.left < 0 ||
      box.y + l.bottom > viewport.height ||
      box.x + l.right > viewport.width,
  );
}

/** The iframe's area of the page: its four corner pixels, and the middle of its top edge (the card's border). */
async function iframeArea(page: Page, frame: Frame) {
  const box = (await (await frame.frameElement()).boundingBox())!;
  const clip = {
    x: Math.round(box.x),
    y: Math.round(box.y),
    width: Math.floor(box.width),
    height: Math.floor(box.height),
  };
  const png = await page.screenshot({ clip });
  const [w, h] = [clip.width - 1, clip.height - 1];
  const [topLeft, topRight, bottomLeft, bottomRight, middle] = await colorsAt(png, [
    [0, 0],
    [w, 0],
    [0, h],
    [w, h],
    [Math.floor(w / 2), 0],
  ]);
  return { corners: [topLeft!, topRight!, bottomLeft!, bottomRight!].map(rgbText), edge: rgbText(middle!) };
}

/** The shared page at `viewport`, the system `light` or `dark`, with nothing to remember. */
async function prepare(target: Page, viewport: { width: number; height: number }, system: 'light' | 'dark') {
  await target.setViewportSize(viewport);
  await target.emulateMedia({ colorScheme: system, reducedMotion: 'reduce' });
  await target.context().clearCookies();
  errors.length = 0;
}

async function openFitted(
  path: string,
  viewport: { width: number; height: number },
  system: 'light' | 'dark',
) {
  await prepare(page, viewport, system);
  await page.goto(`${site.url}${path}`);
  await expect.poll(() => Boolean(widgetFrame(page)), { timeout: 10_000 }).toBe(true);
  const frame = widgetFrame(page)!;
  // Sized to its content by the host's script (the snippet's second line).
  await expect
    .poll(
      async () => {
        const iframe = await page.$eval('iframe', (el) => el.clientHeight);
        const content = await frame.evaluate(() => Math.ceil(document.body.getBoundingClientRect().height));
        return iframe === content;
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  return { frame };
}

async function cardLook(frame: Frame) {
  return frame.evaluate(
    () => getComputedStyle(document.querySelector('membership-goal .box')!).backgroundColor,
  );
}

describe('the iframe snippet with every option, on light and dark sites of another origin', () => {
  for (const size of SIZES) {
    for (const host of ['light', 'dark'] as const) {
      for (const locale of ['en', 'uk'] as const) {
        const name = `${size.width}-${host}-${locale}`;
        // The system setting the opposite of the page: where a dark block would show.
        const system = host === 'light' ? 'dark' : 'light';
        it(`when a ${size.width} px ${host} page in ${locale} shows it (system ${system}), then no button is clipped, nothing is painted outside the card, its text has contrast and it shows the count without JavaScript`, async () => {
          const { frame } = await openFitted(`/${host}-${locale}`, size, system);
          // Theme auto follows the page: a dark card on the dark site, a light one on the light.
          await expect
            .poll(() => cardLook(frame))
            .toBe(host === 'dark' ? 'rgb(24, 24, 27)' : 'rgb(255, 255, 255)');
          await expect
            .poll(() => frame.locator('membership-goal .supporters').textContent())
            .toMatch(locale === 'uk' ? /^Усе завдяки \d+ прихильник/ : /^All thanks to \d+ supporter/);

          expect(await clippedButtons(page, frame)).toEqual([]);

          const area = await iframeArea(page, frame);
          expect(area.corners).toEqual(Array(4).fill(HOSTS[host].background));
          expect(area.edge).not.toBe(HOSTS[host].background); // the card itself is there

          const low = (await cardTexts(frame))
            .map((t) => ({ ...t, ratio: contrast(t.color, t.background) }))
            .filter((t) => t.ratio < 4.5);
          expect(low).toEqual([]);
          await screenshot(page, `embed-iframe-${name}`);
          expect(errors).toEqual([]);

          // The same page with JavaScript off, the framed page's included: the server's card.
          await prepare(still, size, system);
          await still.goto(`${site.url}/${host}-${locale}`);
          await expect.poll(() => Boolean(widgetFrame(still)), { timeout: 10_000 }).toBe(true);
          const plain = widgetFrame(still)!;
          await expect
            .poll(() =>
              plain
                .locator('membership-goal .count')
                .textContent({ timeout: 5_000 })
                .catch(() => ''),
            )
            .toMatch(
              locale === 'uk'
                ? /^612 з 1[\s\u00a0]000 нових членів · 61%$/
                : /^612 of 1,000 new members · 61%$/,
            );
          expect(await plain.locator('membership-goal a').count()).toBe(3); // the buttons, the count's link
          // The snippet's fixed height holds the whole card: no button cut, even on a 320 px phone.
          expect(await clippedButtons(still, plain)).toEqual([]);
          // The host's own colour at the corners (a dark host's card stays light without the
          // host's script, but paints nothing around itself).
          const plainArea = await iframeArea(still, plain);
          expect(plainArea.corners).toEqual(Array(4).fill(HOSTS[host].background));
          await screenshot(still, `embed-iframe-nojs-${name}`);
        }, 60_000);
      }
    }
  }

  it('when the snippet says dark on a light page, or light on a dark page, then the card takes the snippet theme and still paints only itself', async () => {
    for (const [path, host, card] of [
      ['/light-themed-dark', 'light', 'rgb(24, 24, 27)'],
      ['/dark-themed-light', 'dark', 'rgb(255, 255, 255)'],
    ] as const) {
      for (const system of ['light', 'dark'] as const) {
        const { frame } = await openFitted(path, { width: 375, height: 812 }, system);
        expect(await cardLook(frame)).toBe(card);
        const area = await iframeArea(page, frame);
        expect(area.corners, `${path}, system ${system}`).toEqual(Array(4).fill(HOSTS[host].background));
        await screenshot(
          page,
          `embed-iframe-375-${host}-theme-${host === 'light' ? 'dark' : 'light'}-system-${system}`,
        );
        expect(errors).toEqual([]);
      }
    }
  }, 60_000);

  it('when the count or its checkpoint changes, then a framed page with JavaScript shows the new one without a reload', async () => {
    await prepare(page, { width: 375, height: 812 }, 'light');
    await page.goto(`${app.url}/campaigns/birthday/widget?refresh=1`);
    expect(await page.locator('.count').textContent()).toBe('612 of 1,000 new members · 61%');
    // Through the campaign writer: the count moves only by a logged offset change (ADR 0003).
    const setOffset = (startingOffset: number) =>
      updateCampaign(app.deps.db, app.deps.clock, 'birthday', { startingOffset, offsetReason: 'test' });
    await setOffset(650);
    try {
      await expect
        .poll(() => page.locator('.count').textContent(), { timeout: 10_000 })
        .toBe('650 of 1,000 new members · 65%');
      expect(await page.locator('[role=progressbar]').getAttribute('aria-valuenow')).toBe('650');
      // A checkpoint signed meanwhile: the card and its element name it at the next refresh.
      expect(await page.locator('membership-goal').getAttribute('data-checkpoint-size')).toBeNull();
      const campaign = await campaignModels(app.deps.db)
        .Campaign.findOne({ slug: 'birthday' })
        .lean<Campaign>();
      await checkpoint(app, campaign!);
      await expect
        .poll(() => page.locator('membership-goal').getAttribute('data-checkpoint-count'), {
          timeout: 10_000,
        })
        .toBe('650');
      expect(await page.locator('a.count').getAttribute('title')).toMatch(
        /^Signed checkpoint 0 of the drive log: count 650, log size \d+\.$/,
      );
    } finally {
      await setOffset(612);
    }
  }, 30_000);
});

describe('the image', () => {
  it("when the image is asked for with a theme, then light is never dark, dark always is, and auto follows the viewer's system", async () => {
    const svg = async (query: string) =>
      (await fetch(`${app.url}/campaigns/birthday/progress.svg?${query}`)).text();
    const [light, dark, auto] = await Promise.all([svg('theme=light'), svg('theme=dark'), svg('')]);
    expect(light).not.toContain('.bg { fill');
    expect(dark).toContain('<style>.bg { fill: #18181b');
    expect(auto).toContain('<style>@media (prefers-color-scheme: dark) { .bg { fill: #18181b');
  });
});

describe("the console's preview", () => {
  /** The background colours of the preview widget's card and the preview iframe's card. */
  const cards = (page: Page) =>
    Promise.all([
      page
        .locator('#preview-widget')
        .evaluate((el) => getComputedStyle(el.shadowRoot!.querySelector('.box')!).backgroundColor),
      widgetFrame(page)!.evaluate(
        () => getComputedStyle(document.querySelector('membership-goal .box')!).backgroundColor,
      ),
    ]);

  it('when an editor previews on a dark or a light page, against the system setting, then the widget and the iframe look as a host of that page will see them, and the iframe paints only its card', async () => {
    const editor = await consolePage(browser, app.url, app.deps.db, 'editor');
    for (const [query, system, card, pageBackground] of [
      ['page=dark', 'light', 'rgb(24, 24, 27)', 'rgb(17, 24, 39)'],
      ['page=light', 'dark', 'rgb(255, 255, 255)', 'rgb(255, 255, 255)'],
      ['page=light&theme=dark', 'light', 'rgb(24, 24, 27)', 'rgb(255, 255, 255)'],
      ['page=dark&theme=light', 'dark', 'rgb(255, 255, 255)', 'rgb(17, 24, 39)'],
    ] as const) {
      await editor.emulateMedia({ colorScheme: system });
      await editor.goto(`${app.url}/console/campaigns/birthday?${query}`);
      await expect.poll(() => Boolean(widgetFrame(editor)), { timeout: 10_000 }).toBe(true);
      await expect.poll(() => cards(editor), { timeout: 10_000 }).toEqual([card, card]);
      const iframe = (await editor.locator('#preview-iframe').boundingBox())!;
      const png = await editor.screenshot({
        clip: { x: Math.round(iframe.x), y: Math.round(iframe.y), width: 20, height: 20 },
      });
      expect((await colorsAt(png, [[0, 0]])).map(rgbText), query).toEqual([pageBackground]);
      await screenshot(editor, `console-preview-${query.replace(/[=&]/g, '-')}-system-${system}`);
    }
    await editor.context().close();
  }, 90_000);
});
