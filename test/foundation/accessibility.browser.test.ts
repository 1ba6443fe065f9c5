import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { fromRoot } from '../../src/infra/paths.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import {
  launchChromium,
  SCREEN_WIDTHS,
  SCREENSHOTS_DIR,
  screenshot,
  startHostSite,
} from '../support/browser.js';
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

const LOCALES = ['en', 'uk'] as const;

/** Every state this file photographs, for the check that docs/screens.md lists them all. */
const photographed: string[] = [];
async function photo(page: Page, state: string) {
  photographed.push(state);
  await screenshot(page, state, { widths: SCREEN_WIDTHS });
}

/**
 * axe over the page at `url` in each colour scheme, and with `locales` in each language too
 * (`?locale=`); each state is photographed as `<name>[-<locale>]-<scheme>`.
 */
async function check(
  context: BrowserContext | Page,
  name: string,
  url: string,
  ready?: (page: Page) => Promise<void>,
  locales: readonly (string | undefined)[] = [undefined],
) {
  const found: string[] = [];
  for (const locale of locales)
    for (const scheme of SCHEMES) {
      const page = 'newPage' in context ? await context.newPage() : context;
      await page.emulateMedia({ colorScheme: scheme });
      const at = new URL(url);
      if (locale) at.searchParams.set('locale', locale);
      await page.goto(at.toString());
      if (ready) await ready(page);
      const state = locale ? `${name}-${locale}-${scheme}` : `${name}-${scheme}`;
      for (const v of await seriousViolations(page)) found.push(`${state} ${v}`);
      await photo(page, state);
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
    // Every reader page, in English and Ukrainian.
    const pages: [string, string][] = [
      ['membership', '/membership?campaign=birthday'],
      ['membership-thanks', '/membership/thanks'],
      ['gifts', '/gifts'],
      ['gift-thanks', '/gifts/thanks'],
      ['gift-redeem-unknown', '/gifts/redeem?code=GIFT-0000-0000-0000'],
      ['newsletters', '/newsletters'],
      ['newsletter-confirm', '/newsletters/confirm?token=sample-token-sample-token'],
      ['newsletter-unsubscribe-invalid', '/newsletters/unsubscribe?token=not-a-token'],
      ['sponsorship-request', '/sponsorships/request'],
      ['account-sign-in', '/account'],
    ];
    const found: string[] = [];
    for (const [name, path] of pages)
      found.push(...(await check(context, name, `${app.url}${path}`, undefined, LOCALES)));
    // The membership form after a bad amount: the error and the field's message.
    const page = await context.newPage();
    for (const locale of LOCALES)
      for (const scheme of SCHEMES) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto(`${app.url}/membership?locale=${locale}`);
        await page.getByLabel(locale === 'uk' ? 'Разовий внесок' : 'A one-time contribution').check();
        await page.fill('#amountDecimal', locale === 'uk' ? 'сім' : 'seven');
        await page.fill('#email', 'a11y@example.com');
        await Promise.all([
          page.waitForResponse(/\/memberships\/checkout$/),
          page.click('button[type=submit]'),
        ]);
        const state = `membership-error-${locale}-${scheme}`;
        for (const v of await seriousViolations(page)) found.push(`${state} ${v}`);
        await photo(page, state);
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
        await photo(admin, `${name}-${scheme}`);
      }
      await admin.context().close();
      const editor = await consolePage(browser, app.url, app.deps.db, 'editor', { colorScheme: scheme });
      await editor.goto(`${app.url}/console/members`);
      for (const v of await seriousViolations(editor)) found.push(`console-forbidden [${scheme}] ${v}`);
      await photo(editor, `console-forbidden-${scheme}`);
      await editor.context().close();
    }
    expect(found).toEqual([]);
  }, 120_000);

  it('when the embeds are on a page of another origin, light or dark, then they have no serious or critical violation', async () => {
    const host = await startHostSite({
      '/': `<!doctype html><html lang="en"><head><meta name="color-scheme" content="light dark"><title>News</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>img { max-width: 100% } @media (prefers-color-scheme: dark) { body { background: #0b0b0f; color: #eee } }</style></head><body><main><h1>Our news</h1>
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
        'embed-iframe',
        // Rendered by the server: nothing to wait for.
        `${app.url}/campaigns/birthday/widget?supporters=1`,
        undefined,
        LOCALES,
      )),
    ];
    expect(found).toEqual([]);
    await context.close();
    await host.close();
  }, 60_000);

  it('when every page and embed state is photographed, then docs/screens.md lists each, and the files are 375 and 1280 px wide', () => {
    const doc = readFileSync(fromRoot('docs/screens.md'), 'utf8');
    const problems: string[] = [];
    expect(photographed.length).toBeGreaterThan(50);
    for (const state of photographed)
      for (const width of SCREEN_WIDTHS) {
        const file = `${state}-${width}.png`;
        if (!doc.includes(`(../test-results/screenshots/${file})`))
          problems.push(`${file} not in docs/screens.md`);
        if (!existsSync(`${SCREENSHOTS_DIR}/${file}`)) {
          problems.push(`${file} was not written`);
          continue;
        }
        // A PNG's width is the big-endian number at byte 16 of its header.
        const png = readFileSync(`${SCREENSHOTS_DIR}/${file}`);
        // A wider file is a page wider than the screen. The console's header and tables still are on
        // a phone (issue 30, the console's part): its files are listed, not yet held to the width.
        if (png.readUInt32BE(16) !== width && !state.startsWith('console-'))
          problems.push(`${file} is ${png.readUInt32BE(16)} px wide`);
      }
    expect(problems).toEqual([]);
  });
});
