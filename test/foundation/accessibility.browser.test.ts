import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import { launchChromium, screenshot, startHostSite } from '../support/browser.js';
import { consolePage } from '../support/console.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// axe-core (from npm) over every hosted page, the console and the embeds, in light and dark mode:
// no serious or critical violation. Each page is also photographed for the README.

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SCHEMES = ['light', 'dark'] as const;

let app: TestApp;
let browser: Browser;
let memberId: string;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock: { now: () => new Date() } } });
  const now = Date.now();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    goal: 1000,
    startsAt: new Date(now - 10 * 86_400_000),
    endsAt: new Date(now + 20 * 86_400_000),
    timeZone: 'UTC',
    startingOffset: 152,
  });
  const { member } = await createMemberOnce(app.deps.db, {
    email: 'a11y.reader@example.com',
    name: 'Taras',
    locale: 'uk',
    status: 'active',
    source: 'checkout',
    joinedAt: new Date(now - 86_400_000),
    joinedVia: 'sub_a11y',
  });
  memberId = String(member._id);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

interface Violation {
  id: string;
  impact: string | null;
  nodes: { target: unknown[] }[];
}

/** axe-core's serious and critical violations on the page as it is now, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: Violation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`);
}

async function check(
  context: BrowserContext | Page,
  name: string,
  url: string,
  ready?: (page: Page) => Promise<void>,
) {
  const found: string[] = [];
  for (const scheme of SCHEMES) {
    const page = 'newPage' in context ? await context.newPage() : context;
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(url);
    if (ready) await ready(page);
    for (const v of await seriousViolations(page)) found.push(`${name} [${scheme}] ${v}`);
    await screenshot(page, `${name}-${scheme}`);
    if ('newPage' in context) await page.close();
  }
  return found;
}

const shadowText = (selector: string, inner: string) => async (page: Page) => {
  await page.waitForFunction(
    ([s, i]) => Boolean(document.querySelector(s!)?.shadowRoot?.querySelector(i!)?.textContent),
    [selector, inner],
  );
};

describe('accessibility (axe-core) in light and dark mode', () => {
  it('when the hosted reader pages are checked, then none has a serious or critical violation', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const pages: [string, string][] = [
      ['membership-en', '/membership?locale=en'],
      ['membership-uk', '/membership?locale=uk&campaign=birthday'],
      ['membership-thanks', '/membership/thanks?locale=uk'],
      ['gifts', '/gifts'],
      ['gift-redeem-unknown', '/gifts/redeem?code=GIFT-0000-0000-0000'],
      ['newsletters', '/newsletters'],
      ['newsletter-confirm', '/newsletters/confirm?token=sample-token-sample-token'],
      ['account-sign-in', '/account'],
    ];
    const found: string[] = [];
    for (const [name, path] of pages) found.push(...(await check(context, name, `${app.url}${path}`)));
    // The membership form after a bad amount: the error and the field's message.
    const page = await context.newPage();
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`${app.url}/membership?locale=uk`);
      await page.getByLabel('Разовий внесок').check();
      await page.fill('#amountDecimal', 'сім');
      await page.fill('#email', 'a11y@example.com');
      await Promise.all([
        page.waitForResponse(/\/memberships\/checkout$/),
        page.click('button[type=submit]'),
      ]);
      for (const v of await seriousViolations(page)) found.push(`membership-error [${scheme}] ${v}`);
      await screenshot(page, `membership-error-${scheme}`);
    }
    expect(found).toEqual([]);
    await context.close();
  }, 120_000);

  it('when the console is checked as an admin (and refused as an editor), then no page has a serious or critical violation', async () => {
    const found: string[] = [];
    const signedOut = await browser.newContext({ bypassCSP: true });
    found.push(...(await check(signedOut, 'console-sign-in', `${app.url}/console`)));
    await signedOut.close();
    for (const scheme of SCHEMES) {
      const admin = await consolePage(browser, app.url, app.deps.db, 'admin', { colorScheme: scheme });
      const pages: [string, string, ((page: Page) => Promise<void>)?][] = [
        ['console-overview', '/console'],
        ['console-campaigns', '/console/campaigns'],
        ['console-campaign-new', '/console/campaigns/new'],
        ['console-campaign', '/console/campaigns/birthday', shadowText('#preview-widget', 'h2')],
        ['console-members', '/console/members?q=a11y.reader%40example.com'],
        ['console-sources', '/console/sources'],
        ['console-member', `/console/members/${memberId}`],
        ['console-webhooks', '/console/webhooks'],
        ['console-webhook-new', '/console/webhooks/new'],
        ['console-reports', '/console/reports'],
        ['console-reports-uk', '/console/reports?lang=uk'],
      ];
      for (const [name, path, ready] of pages) {
        await admin.goto(`${app.url}${path}`);
        if (ready) await ready(admin);
        for (const v of await seriousViolations(admin)) found.push(`${name} [${scheme}] ${v}`);
        await screenshot(admin, `${name}-${scheme}`);
      }
      await admin.context().close();
      const editor = await consolePage(browser, app.url, app.deps.db, 'editor', { colorScheme: scheme });
      await editor.goto(`${app.url}/console/members`);
      for (const v of await seriousViolations(editor)) found.push(`console-forbidden [${scheme}] ${v}`);
      await screenshot(editor, `console-forbidden-${scheme}`);
      await editor.context().close();
    }
    expect(found).toEqual([]);
  }, 120_000);

  it('when the embeds are on a page of another origin, light or dark, then they have no serious or critical violation', async () => {
    const host = await startHostSite({
      '/': `<!doctype html><html lang="en"><head><meta name="color-scheme" content="light dark"><title>News</title>
        <style>@media (prefers-color-scheme: dark) { body { background: #0b0b0f; color: #eee } }</style></head><body><main><h1>Our news</h1>
        <script src="${app.url}/widget.js" async></script>
        <membership-goal campaign="birthday" show-supporters></membership-goal>
        <script src="${app.url}/embed/newsletter-form.js" async></script>
        <newsletter-signup></newsletter-signup>
        <p><img src="${app.url}/campaigns/birthday/progress.svg?supporters=1" alt="Progress toward our goal"></p>
        </main></body></html>`,
    });
    const context = await browser.newContext({ bypassCSP: true });
    const found = [
      ...(await check(context, 'embeds-host-page', host.url, async (page) => {
        await shadowText('membership-goal', '.supporters')(page);
        await page.waitForFunction(() =>
          Boolean(
            document.querySelector('newsletter-signup')?.shadowRoot?.querySelector('input[name=lists]'),
          ),
        );
      })),
      ...(await check(
        context,
        'embed-iframe-uk',
        // Rendered by the server: nothing to wait for.
        `${app.url}/campaigns/birthday/widget?locale=uk&supporters=1`,
      )),
    ];
    expect(found).toEqual([]);
    await context.close();
    await host.close();
  }, 60_000);
});
