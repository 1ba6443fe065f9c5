import { mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright-core';
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

/**
 * Photographs the page as it is, at a phone's and a desktop's width:
 * `test-results/screenshots/<name>-375.png` and `<name>-1280.png` (docs/screens.md lists them),
 * then puts the viewport back. A page the test sized as a phone (under 600 px) or a desktop
 * (1280 px) is what the test is about: it is photographed once, at that size, `<name>-<width>.png`;
 * `widths` asks for these widths whatever the size.
 */
export async function screenshot(
  page: Page,
  name: string,
  options: { widths?: readonly number[] } = {},
): Promise<void> {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const before = page.viewportSize();
  const sizedByTest =
    !options.widths &&
    before &&
    (before.width !== DEFAULT_VIEWPORT.width || before.height !== DEFAULT_VIEWPORT.height) &&
    (before.width < 600 || before.width === 1280);
  const widths = sizedByTest ? [before.width] : (options.widths ?? SCREEN_WIDTHS);
  for (const width of widths) {
    if (!sizedByTest) await page.setViewportSize({ width, height: width < 600 ? 812 : 800 });
    // The layout (and an embed's resize message) settles at the new width. A timer, not the page's
    // animation frames: a page may run without JavaScript.
    if (!sizedByTest) await page.waitForTimeout(100);
    await page.screenshot({ path: `${SCREENSHOTS_DIR}/${name}-${width}.png`, fullPage: true });
  }
  if (before && !sizedByTest) await page.setViewportSize(before);
}
