import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type CDPSession, chromium, type Page } from 'playwright-core';
import { fromRoot } from '../../src/infra/paths.js';

// Debian's Chromium driven by playwright-core; never a downloaded browser. A missing Chromium
// fails the test (install it: apt-get install chromium), it is never skipped.
export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A site of its own origin (another port) that serves the given pages, like a newsroom's site. */
export async function startHostSite(pages: Record<string, string>) {
  const server = http.createServer((req, res) => {
    const page = pages[req.url ?? '/'];
    if (!page) return res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * `promise`, or an error naming `step` after `ms`. For the waits playwright does not bound (a page's
 * own promise in `page.evaluate`, `page.close`, Node's fetch): a stall then fails the step it is
 * in, named, instead of the whole test's timeout.
 */
export function within<T>(step: string, promise: Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${step}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Collects console errors and uncaught page errors, so a test can assert there were none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

/** The widths every screenshot is taken at: a phone and a desktop. */
export const SCREEN_WIDTHS = [375, 1280] as const;
export const SCREENSHOTS_DIR = fromRoot('test-results/screenshots');
/** playwright's viewport when a test does not choose one. */
const DEFAULT_VIEWPORT = { width: 1280, height: 720 };

/** The size a screenshot at this width is taken at. */
export const screenSize = (width: number) => ({ width, height: width < 600 ? 812 : 800 });

/**
 * Photographs the page as it is, at a phone's and a desktop's width:
 * `test-results/screenshots/<name>-375.png` and `<name>-1280.png` (docs/screens.md lists them),
 * then puts the viewport back. A page the test sized as a phone (under 600 px) or a desktop
 * (1280 px) is what the test is about: it is photographed once, at that size, `<name>-<width>.png`;
 * `widths` asks for these widths whatever the size. A page already at one of the sizes is
 * photographed at it first, without a resize.
 */
export function screenshot(
  page: Page,
  name: string,
  options: { widths?: readonly number[] } = {},
): Promise<void> {
  // One photograph at a time, its page brought to the front: a page behind another draws no new
  // frame after a resize, and its phone-sized file showed the wide page's left edge (4-6 of 114
  // files per run when a test photographed three pages at once).
  const turn = photographing.then(async () => {
    await page.bringToFront();
    await photograph(page, name, options);
  });
  photographing = turn.catch(() => {});
  return turn;
}
let photographing: Promise<void> = Promise.resolve();

async function photograph(page: Page, name: string, options: { widths?: readonly number[] }) {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const before = page.viewportSize();
  const sizedByTest =
    !options.widths &&
    before &&
    (before.width !== DEFAULT_VIEWPORT.width || before.height !== DEFAULT_VIEWPORT.height) &&
    (before.width < 600 || before.width === 1280);
  if (sizedByTest) {
    await fullPage(page, `${SCREENSHOTS_DIR}/${name}-${before.width}.png`);
    return;
  }
  const asIs = (width: number) =>
    before?.width === width && before.height === screenSize(width).height ? 0 : 1;
  const widths = [...(options.widths ?? SCREEN_WIDTHS)].sort((a, b) => asIs(a) - asIs(b));
  let resized = false;
  for (const width of widths) {
    if (asIs(width)) {
      await page.setViewportSize(screenSize(width));
      await settled(page);
      resized = true;
    }
    await fullPage(page, `${SCREENSHOTS_DIR}/${name}-${width}.png`);
  }
  if (before && resized) await page.setViewportSize(before);
}

/**
 * Waits after a resize until the page shows the new width. Its own layout is redone by the
 * screenshot; what may lag is its scripts (resize handlers, ResizeObservers), done by its next two
 * animation frames, and an embed's height, which comes by message from the framed page: a page
 * with frames gets 100 ms. A page without JavaScript has no animation frames, so the frames are
 * awaited for at most a second: on a loaded machine a 100 ms cap took the photograph before the
 * new width was drawn (a phone-sized file showing the desktop page's left edge).
 */
async function settled(page: Page): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const single = page.frames().length === 1;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, single ? 1000 : 100);
  });
  const waits = [waited];
  if (single) {
    const frames = page.evaluate(
      () =>
        new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))),
    );
    frames.catch(() => {}); // never answered without JavaScript: given up with the page
    waits.push(frames);
  }
  await Promise.race(waits);
  clearTimeout(timer);
}

const sessions = new WeakMap<Page, Promise<CDPSession>>();

/**
 * The whole page as a PNG file: what `page.screenshot({ fullPage: true })` takes in Chromium, the
 * same DevTools call, but encoded for speed (a larger file, in about half the time).
 */
async function fullPage(page: Page, path: string): Promise<void> {
  if (!sessions.has(page)) sessions.set(page, page.context().newCDPSession(page));
  const devtools = await sessions.get(page)!;
  const { cssContentSize, cssLayoutViewport } = await devtools.send('Page.getLayoutMetrics');
  const [width, height] = [Math.ceil(cssContentSize.width), Math.ceil(cssContentSize.height)];
  const { data } = await devtools.send('Page.captureScreenshot', {
    format: 'png',
    optimizeForSpeed: true,
    clip: { x: 0, y: 0, width, height, scale: 1 },
    captureBeyondViewport: width > cssLayoutViewport.clientWidth || height > cssLayoutViewport.clientHeight,
  });
  writeFileSync(path, Buffer.from(data, 'base64'));
}
