import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { launchChromium, screenshot } from '../support/browser.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A news site with a strict policy of its own (docs/security.md, "Embeds on a strict host"):
// styles only from itself and the members service, no inline styles, and cross-origin isolation
// (Cross-Origin-Embedder-Policy: require-corp). The widget, the newsletter form, the membership
// button, the iframe and the progress image must all still show, styled as designed.

let app: TestApp;
let browser: Browser;
let host: { url: string; close(): Promise<void> };

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  const now = Date.now();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    goal: 1000,
    startsAt: new Date(now - 20 * 86_400_000),
    endsAt: new Date(now + 9 * 86_400_000 - 60_000),
    timeZone: 'UTC',
    startingOffset: 612,
  });
  const page = `<!doctype html><html lang="en"><head><title>Strict article</title>
    <script src="/report.js"></script></head><body>
    <h1>Our reporting this week</h1>
    <membership-goal campaign="birthday" accent="#0b6e4f"></membership-goal>
    <newsletter-signup lists="editors-picks"></newsletter-signup>
    <script src="${app.url}/embed/membership-button.js" data-campaign="birthday"></script>
    <iframe src="${app.url}/campaigns/birthday/widget" title="Membership goal" width="520" height="230"></iframe>
    <img id="svg" src="${app.url}/campaigns/birthday/progress.svg" alt="Progress toward our goal">
    <script src="${app.url}/widget.js" async></script>
    <script src="${app.url}/embed/newsletter-form.js" async></script>
  </body></html>`;
  // Collects every policy violation the browser reports, so the test can say there were none.
  const report = `window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', function (e) {
      window.cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
    });`;
  const server = http.createServer((req, res) => {
    const headers = {
      'content-security-policy': `default-src 'self' ${app.url}; style-src 'self' ${app.url}`,
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-opener-policy': 'same-origin',
    };
    if (req.url === '/article')
      return res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(page);
    if (req.url === '/report.js')
      return res.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(report);
    res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = {
    // Another site than the members service's 127.0.0.1, not only another port.
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await host?.close();
  await app?.close();
});

const styleOf = (page: Page | Frame, selector: string, properties: string[]) =>
  page.locator(selector).evaluate((el, names) => {
    const style = getComputedStyle(el);
    return Object.fromEntries(names.map((n) => [n, style.getPropertyValue(n)]));
  }, properties);

describe('embeds on a host page with a strict CSP and require-corp', () => {
  it('when the page loads, then the widget, form, button, iframe and image all render, styled, with no policy violation', async () => {
    const page = await browser.newPage({ viewport: { width: 900, height: 1400 }, reducedMotion: 'reduce' });
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') blocked.push(m.text());
    });
    await page.goto(`${host.url}/article`);
    expect(await page.evaluate(() => window.crossOriginIsolated)).toBe(true);

    // The script widget: its box, bar and button carry their designed styles.
    const widget = page.locator('membership-goal');
    await expect
      .poll(() => widget.locator('.count').textContent(), { timeout: 10_000 })
      .toBe('612 of 1,000 new members · 61%');
    expect(await styleOf(page, 'membership-goal >> .box', ['border-top-left-radius', 'padding-top'])).toEqual(
      {
        'border-top-left-radius': '8px',
        'padding-top': '16px',
      },
    );
    expect(await styleOf(page, 'membership-goal >> .track', ['height', 'overflow'])).toEqual({
      height: '14px',
      overflow: 'hidden',
    });
    expect(await styleOf(page, 'membership-goal >> .bar', ['background-color'])).toEqual({
      'background-color': 'rgb(11, 110, 79)',
    });
    expect(await styleOf(page, 'membership-goal >> a.join', ['color', 'padding-top', 'font-weight'])).toEqual(
      {
        color: 'rgb(255, 255, 255)',
        'padding-top': '10px',
        'font-weight': '700',
      },
    );

    // The newsletter form: its lists arrived and its parts are styled (no inline style needed).
    const form = page.locator('newsletter-signup');
    await expect.poll(() => form.locator('input[name=lists]').count(), { timeout: 10_000 }).toBe(1);
    expect(
      await styleOf(page, 'newsletter-signup >> button', ['background-color', 'color', 'font-weight']),
    ).toEqual({
      'background-color': 'rgb(26, 86, 219)',
      color: 'rgb(255, 255, 255)',
      'font-weight': '700',
    });
    expect(await styleOf(page, 'newsletter-signup >> fieldset', ['border-top-width', 'padding-top'])).toEqual(
      {
        'border-top-width': '0px',
        'padding-top': '0px',
      },
    );
    expect(await styleOf(page, 'newsletter-signup >> legend', ['font-weight'])).toEqual({
      'font-weight': '700',
    });
    expect(await styleOf(page, 'newsletter-signup >> input[type=email]', ['border-top-left-radius'])).toEqual(
      {
        'border-top-left-radius': '4px',
      },
    );

    // The membership button.
    expect(await styleOf(page, 'a[data-membership-button]', ['background-color', 'display'])).toEqual({
      'background-color': 'rgb(26, 86, 219)',
      display: 'inline-block',
    });

    // The iframe: loaded under require-corp, its widget rendered and styled.
    const framed = () =>
      page.frames().find((f) => f.url().startsWith(`${app.url}/campaigns/birthday/widget`));
    await expect.poll(() => Boolean(framed()), { timeout: 10_000 }).toBe(true);
    const frame = framed()!;
    await expect
      .poll(
        () =>
          frame
            .locator('membership-goal .count')
            .textContent()
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe('612 of 1,000 new members · 61%');
    expect(await styleOf(frame, 'membership-goal >> .box', ['border-top-left-radius'])).toEqual({
      'border-top-left-radius': '8px',
    });

    // The progress image, loaded under require-corp.
    await expect
      .poll(() => page.locator('#svg').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBeGreaterThan(0);

    await screenshot(page, 'embeds-strict-host');
    expect(
      await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations),
    ).toEqual([]);
    expect(blocked).toEqual([]);
    await page.close();
  });
});
