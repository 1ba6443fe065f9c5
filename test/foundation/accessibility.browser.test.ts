import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Types } from 'mongoose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { emailModels } from '../../src/email/email.model.js';
import { giftDepsFrom } from '../../src/gifts/gift-deps.js';
import { sweepGifts } from '../../src/gifts/gift-sweep.js';
import { fromRoot } from '../../src/infra/paths.js';
import { createGiftMember } from '../../src/memberships/gift-membership.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import { reconcileEverySupporter } from '../../src/memberships/supporters.js';
import {
  launchChromium,
  SCREEN_WIDTHS,
  SCREENSHOTS_DIR,
  screenSize,
  screenshot,
  startHostSite,
} from '../support/browser.js';
import { consolePage } from '../support/console.js';
import {
  checkoutSession,
  invoice,
  paidGiftSession,
  postEvent,
  purchase,
  stripeEvent,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// axe-core (from npm) over every hosted page, the console and the embeds, in light and dark mode:
// no serious or critical violation. Each page is also photographed for the README.

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
/**
 * axe gives every violation of a rule the rule's own impact, so a rule that is moderate or minor
 * never finds a serious or critical one: those rules are left out, the others all run.
 */
const MILD_RULES: Record<string, { enabled: false }> = Object.fromEntries(
  (require('axe-core') as { _audit: { rules: { id: string; impact?: string }[] } })._audit.rules
    .filter((rule) => rule.impact === 'moderate' || rule.impact === 'minor')
    .map((rule) => [rule.id, { enabled: false }]),
);
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
  // Counted now: the embeds' supporters line, which the embeds test waits for, is left out at 0.
  await reconcileEverySupporter(app.deps.db, new Date());
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
  const violations = await page.evaluate(async (rules) => {
    const axe = (
      window as unknown as {
        axe: { run(context: Node, options: object): Promise<{ violations: Violation[] }> };
      }
    ).axe;
    // Only violations are read: axe then builds no selectors for the nodes that pass.
    return (await axe.run(document, { rules, resultTypes: ['violations'] })).violations;
  }, MILD_RULES);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`);
}

const LOCALES = ['en', 'uk'] as const;

/** Every state this file photographs, for the check that docs/screens.md lists them all. */
const photographed: string[] = [];

/** A page in one colour scheme (and language), photographed as `state`. */
interface State {
  state: string;
  url: string;
  scheme: (typeof SCHEMES)[number];
  /** The reader's language: their browser asks for it too (a form posted without `locale` follows it). */
  locale?: string;
  ready?: (page: Page) => Promise<void>;
}

/**
 * The states of the page at `url`: each colour scheme, and with `locales` each language too
 * (`?locale=`), named `<name>[-<locale>]-<scheme>`.
 */
function states(
  name: string,
  url: string,
  options: { locales?: readonly string[]; ready?: (page: Page) => Promise<void> } = {},
): State[] {
  return (options.locales ?? [undefined]).flatMap((locale) =>
    SCHEMES.map((scheme) => {
      const at = new URL(url);
      if (locale) at.searchParams.set('locale', locale);
      const state = locale ? `${name}-${locale}-${scheme}` : `${name}-${scheme}`;
      return { state, url: at.toString(), scheme, locale, ready: options.ready };
    }),
  );
}

/** axe over one state, freshly loaded in its colour scheme; then its photograph. */
async function check(page: Page, { state, url, scheme, locale, ready }: State): Promise<string[]> {
  await page.emulateMedia({ colorScheme: scheme });
  await page.setExtraHTTPHeaders({ 'accept-language': locale ?? 'en' });
  await page.goto(url);
  if (ready) await ready(page);
  const found = (await seriousViolations(page)).map((v) => `${state} ${v}`);
  photographed.push(state);
  await screenshot(page, state, { widths: SCREEN_WIDTHS });
  return found;
}

/**
 * Checks each state, `PAGES_AT_ONCE` at a time, each on a page of its own in `context` (sized as
 * the desktop screenshot, so that one needs no resize): Chromium draws one page while the test
 * waits on another. Returns what axe found.
 */
const PAGES_AT_ONCE = 3;
async function checkAll(context: BrowserContext, all: readonly State[]): Promise<string[]> {
  const found: string[] = [];
  const queue = [...all];
  await Promise.all(
    Array.from({ length: Math.min(PAGES_AT_ONCE, all.length) }, async () => {
      const page = await context.newPage();
      await page.setViewportSize(screenSize(1280));
      for (let next = queue.shift(); next; next = queue.shift()) found.push(...(await check(page, next)));
      await page.close();
    }),
  );
  return found;
}

/** A context signed in to the console as a staff user of this role (through its form). */
async function signedIn(role: 'admin' | 'editor'): Promise<BrowserContext> {
  const page = await consolePage(browser, app.url, app.deps.db, role);
  const storageState = await page.context().storageState();
  await page.context().close();
  return browser.newContext({ storageState });
}

const shadowText = (selector: string, inner: string) => async (page: Page) => {
  await page.waitForFunction(
    ([s, i]) => Boolean(document.querySelector(s!)?.shadowRoot?.querySelector(i!)?.textContent),
    [selector, inner],
  );
};

/** The data of the newest email of `template` to `to`: the links a reader follows from it. */
async function emailed(template: string, to: string): Promise<Record<string, unknown>> {
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ template, 'to.email': to })
    .sort({ createdAt: -1 })
    .lean();
  expect(job, `${template} email to ${to}`).toBeTruthy();
  return job!.data as Record<string, unknown>;
}

/** A link from an email (it names the public host) as a path on the test server. */
const pathOf = (link: unknown) => {
  const url = new URL(String(link));
  return `${url.pathname}${url.search}`;
};

const postJson = (path: string, body: object) =>
  fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/**
 * The pages a reader opens from an email, each link taken from the email the app queued after the
 * steps that send it: a failed renewal, a paid gift, a gift membership near its end, a confirmed
 * newsletter subscription, a sponsorship request. Returns [state name, path].
 */
async function emailedPages(): Promise<[string, string][]> {
  const now = Math.floor(Date.now() / 1000);
  const renewal = purchase({ at: now });
  const failed = { ...invoice(renewal, { paid: false }), created: now };
  for (const event of [
    stripeEvent('checkout.session.completed', checkoutSession(renewal), now),
    stripeEvent('invoice.payment_failed', failed, now),
  ])
    expect((await postEvent(app.url, event)).status).toBe(200);
  const card = pathOf((await emailed('payment-failed', renewal.email)).updateUrl);

  const bought = await postJson('/gifts/checkout', {
    purchaserName: 'Olena',
    purchaserEmail: 'a11y.giver@example.com',
    recipientName: 'Taras',
    recipientEmail: 'a11y.recipient@example.com',
    durationMonths: 12,
    currency: 'eur',
    deliverOn: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10),
  });
  expect(bought.status).toBe(201);
  const { giftId } = (await bought.json()) as { giftId: string };
  expect(
    (await postEvent(app.url, stripeEvent('checkout.session.completed', paidGiftSession(giftId), now)))
      .status,
  ).toBe(200);
  const manage = pathOf((await emailed('gift-receipt', 'a11y.giver@example.com')).manageUrl);

  // A gift membership ending in five days: the daily round invites the member to continue.
  // Redeemed 25 days ago for a month: made as a redemption makes it, listed for the round.
  await createGiftMember(app.deps, {
    memberId: new Types.ObjectId(),
    email: 'a11y.gifted@example.com',
    name: 'Olena',
    locale: 'en',
    giftId: 'gift_a11y',
    months: 1,
    at: new Date(Date.now() - 25 * 86_400_000),
  });
  await sweepGifts(giftDepsFrom(app.deps.config, app.deps));
  const continuing = pathOf((await emailed('gift-ending', 'a11y.gifted@example.com')).continueUrl);

  const reader = 'a11y.newsletters@example.com';
  const lists = ['editors-picks', 'explaining-ukraine'];
  expect((await postJson('/newsletters/subscriptions', { email: reader, lists })).status).toBe(202);
  const token = new URL(
    String((await emailed('newsletter-confirmation', reader)).confirmUrl),
  ).searchParams.get('token')!;
  expect((await postJson('/newsletters/confirm', { token })).status).toBe(200);
  const preferences = pathOf((await emailed('newsletter-welcome', reader)).preferencesUrl);

  const asking = 'a11y.sponsored@example.com';
  expect(
    (
      await postJson('/sponsorships/requests', {
        campaign: 'birthday',
        email: asking,
        reason: 'A student',
        country: 'UA',
      })
    ).status,
  ).toBe(202);
  const confirm = pathOf((await emailed('sponsorship-confirm', asking)).confirmUrl);

  return [
    ['account-card', card],
    ['gift-manage', manage],
    ['gift-continue', continuing],
    ['newsletter-preferences', preferences],
    ['sponsorship-confirm', confirm],
  ];
}

/** A context signed in to the account pages as the member a checkout made, through the emailed link. */
async function signedInMember(): Promise<BrowserContext> {
  const now = Math.floor(Date.now() / 1000);
  const member = purchase({ at: now });
  expect(
    (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(member), now)))
      .status,
  ).toBe(200);
  expect((await postJson('/account/sign-in', { email: member.email })).status).toBe(202);
  const link = pathOf((await emailed('account-sign-in', member.email)).signInUrl);
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${app.url}${link}`);
  await Promise.all([
    page.waitForURL(`${app.url}/account`),
    page.click('form[action="/account/sign-in/verify"] button'),
  ]);
  await page.close();
  return context;
}

/** The language a state's page was opened in. */
const localeOf = (page: Page) => new URL(page.url()).searchParams.get('locale') ?? 'en';

/** Submits the form on the page and waits for the page it answers with, at `path`. */
async function submit(page: Page, form: string, path: string): Promise<void> {
  await Promise.all([page.waitForURL(`${app.url}${path}`), page.click(`form[action="${form}"] button`)]);
}

/** Adds a webhook endpoint with the console's form, as an admin does; the answer shows its secret. */
async function addEndpoint(page: Page): Promise<void> {
  await page.fill('#url', 'https://hooks.example.org/crm');
  await page.check('input[name="events"][value="member.joined"]');
  await page.fill('#description', 'CRM');
  await submit(page, '/console/webhooks', '/console/webhooks');
}

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
      ...(await emailedPages()),
    ];
    const all = pages.flatMap(([name, path]) => states(name, `${app.url}${path}`, { locales: LOCALES }));
    // What a form answers with: "check your email" after asking for a sign-in link (whose answer
    // follows the browser's language), and the message after asking for a sponsored membership.
    all.push(
      ...states('account-check-email', `${app.url}/account`, {
        locales: LOCALES,
        ready: async (page) => {
          await page.fill('#email', 'a11y.reader@example.com');
          await submit(page, '/account/sign-in', '/account/sign-in');
        },
      }),
      ...states('sponsorship-message', `${app.url}/sponsorships/request?campaign=birthday`, {
        locales: LOCALES,
        ready: async (page) => {
          await page.fill('#email', `a11y.asking.${localeOf(page)}@example.com`);
          await page.fill('#reason', 'A student');
          await page.fill('#country', 'UA');
          await page.selectOption('#locale', localeOf(page));
          await submit(page, '/sponsorships/requests', '/sponsorships/requests');
        },
      }),
    );
    // The membership form after a bad amount: the error and the field's message.
    for (const locale of LOCALES)
      all.push(
        ...states(`membership-error-${locale}`, `${app.url}/membership?locale=${locale}`, {
          ready: async (page) => {
            await page.getByLabel(locale === 'uk' ? 'Разовий внесок' : 'A one-time contribution').check();
            await page.fill('#amountDecimal', locale === 'uk' ? 'сім' : 'seven');
            await page.fill('#email', 'a11y@example.com');
            await Promise.all([
              page.waitForResponse(/\/memberships\/checkout$/),
              page.click('button[type=submit]'),
            ]);
          },
        }),
      );
    const found = await checkAll(context, all);
    await context.close();
    // A signed-in member's account page.
    const member = await signedInMember();
    found.push(...(await checkAll(member, states('account', `${app.url}/account`, { locales: LOCALES }))));
    await member.close();
    expect(found).toEqual([]);
  }, 180_000);

  it('when the console is checked as an admin (and refused as an editor), then no page has a serious or critical violation', async () => {
    const signedOut = await browser.newContext({ bypassCSP: true });
    const found = await checkAll(signedOut, states('console-sign-in', `${app.url}/console`));
    await signedOut.close();
    const admin = await signedIn('admin');
    // An endpoint an admin added: its page.
    const adding = await admin.newPage();
    await adding.goto(`${app.url}/console/webhooks/new`);
    await addEndpoint(adding);
    const endpoint = await adding.locator('a.button[href^="/console/webhooks/"]').getAttribute('href');
    await adding.close();
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
      ['console-webhook', endpoint!],
      // The answer to adding an endpoint: its secret, shown once.
      ['console-webhook-secret', '/console/webhooks/new', addEndpoint],
      // A link to what is gone (an endpoint since deleted): the console's message page.
      ['console-message', '/console/webhooks/ep_000000000000000000000000'],
      ['console-reports', '/console/reports'],
      ['console-reports-uk', '/console/reports?lang=uk'],
    ];
    found.push(
      ...(await checkAll(
        admin,
        pages.flatMap(([name, path, ready]) => states(name, `${app.url}${path}`, { ready })),
      )),
    );
    await admin.close();
    const editor = await signedIn('editor');
    found.push(...(await checkAll(editor, states('console-forbidden', `${app.url}/console/members`))));
    await editor.close();
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
    const found = await checkAll(context, [
      ...states('embeds-host-page', host.url, {
        ready: async (page) => {
          await shadowText('membership-goal', '.supporters')(page);
          await page.waitForFunction(() =>
            Boolean(
              document.querySelector('newsletter-signup')?.shadowRoot?.querySelector('input[name=lists]'),
            ),
          );
        },
      }),
      // Rendered by the server: nothing to wait for.
      ...states('embed-iframe', `${app.url}/campaigns/birthday/widget?supporters=1`, { locales: LOCALES }),
    ]);
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
        // A wider file is a page wider than the screen: wide tables scroll in their own box.
        if (png.readUInt32BE(16) !== width) problems.push(`${file} is ${png.readUInt32BE(16)} px wide`);
      }
    expect(problems).toEqual([]);
  });
});
