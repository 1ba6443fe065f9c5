import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { emailModels } from '../../src/email/email.model.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import { listMemberSubscription, membershipModels } from '../../src/memberships/membership.model.js';
import { launchChromium, screenshot, startHostSite, watchErrors, within } from '../support/browser.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The newsroom's site knows its members, in Chromium (src/accounts/README.md, "The site knows its
// members"). The members service is at 127.0.0.1:A; the newsroom's site at 127.0.0.1:B is another
// origin of the same site, as www.newsroom.example beside members.newsroom.example, and is
// configured. 127.0.0.1:C (same site, not configured) and localhost:B (another site) are not.

let app: TestApp;
let browser: Browser;
let site: Awaited<ReturnType<typeof startHostSite>>;
let stranger: Awaited<ReturnType<typeof startHostSite>>;
const EMAIL = 'oksana@example.com';
/** Moved on before each sign-in: one sign-in email per address per two minutes. */
let clockOffset = 0;
const clock = { now: () => new Date(Date.now() + clockOffset) };

const article = (membersUrl: string, lang: string) => `<!doctype html><html lang="${lang}"><head>
  <meta name="viewport" content="width=device-width, initial-scale=1"><title>Article</title></head><body>
  <h1>Our reporting this week</h1>
  <membership-goal campaign="birthday"></membership-goal>
  <p><script src="${membersUrl}/embed/membership-button.js" data-campaign="birthday" async></script></p>
  <script src="${membersUrl}/widget.js" async></script>
  <script src="${membersUrl}/embed/member.js" async></script>
  <script>
    // What any script of this page can learn by asking the service itself, with the reader's cookie.
    window.probe = fetch('${membersUrl}/member/status', { credentials: 'include' })
      .then(function (r) { return r.json(); })
      .then(function (j) { return 'read ' + JSON.stringify(j); }, function () { return 'refused'; });
  </script>
</body></html>`;

beforeAll(async () => {
  // The host sites first: the configured origin names the site's port.
  const pages = (url: () => string) => ({
    '/article': () => article(url(), 'en'),
    '/stattia': () => article(url(), 'uk'),
    '/framed': () => `<!doctype html><html lang="en"><head><title>Framed</title></head><body>
      <iframe src="${url()}/campaigns/birthday/widget" title="Membership goal" width="100%" height="300" style="border:0"></iframe>
      <script src="${url()}/embed/iframe-resize.js" async></script></body></html>`,
  });
  let membersUrl = '';
  site = await startLazyHostSite(pages(() => membersUrl));
  stranger = await startLazyHostSite(pages(() => membersUrl));
  app = await startTestApp({
    config: testConfig({ MEMBER_SITE_ORIGINS: site.url, PROGRESS_CACHE_SECONDS: '0' }),
    deps: { clock },
  });
  membersUrl = app.url;
  const now = Date.now();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    goal: 1000,
    startsAt: new Date(now - 20 * 86_400_000),
    endsAt: new Date(now + 9 * 86_400_000),
    timeZone: 'Europe/Kyiv',
    startingOffset: 612,
  });
  const { member } = await createMemberOnce(app.deps.db, {
    email: EMAIL,
    stripeCustomerId: 'cus_oksana',
    locale: 'uk',
    status: 'active',
    source: 'checkout',
    joinedAt: new Date(now - 40 * 86_400_000),
    joinedVia: 'sub_oksana',
  });
  await membershipModels(app.deps.db).Subscription.create({
    _id: 'sub_oksana',
    memberId: member._id,
    customerId: 'cus_oksana',
    status: 'active',
    plan: 'supporter',
    interval: 'year',
    amount: 7000,
    currency: 'eur',
    cancelAtPeriodEnd: false,
    lastEventCreated: 1,
    lastEventId: 'evt_1',
  });
  await listMemberSubscription(app.deps.db, member._id, 'sub_oksana');
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await stranger?.close();
  await app?.close();
});

/** startHostSite with pages written when asked: they name the members service, started after. */
async function startLazyHostSite(pages: Record<string, () => string>) {
  const proxy = new Proxy({} as Record<string, string>, {
    get: (_target, path: string) => pages[path]?.(),
  });
  return startHostSite(proxy);
}

async function newContext(width: number): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height: 800 } });
  context.setDefaultTimeout(10_000);
  return context;
}

/** The member signs in on the account pages: the emailed link, then its button. */
async function signIn(context: BrowserContext): Promise<void> {
  clockOffset += 3 * 60_000;
  const asked = await fetch(`${app.url}/account/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL }),
    signal: AbortSignal.timeout(15_000),
  });
  expect(asked.status).toBe(202);
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ template: 'account-sign-in' })
    .sort({ createdAt: -1 })
    .lean();
  const link = new URL(String(job!.data.signInUrl));
  const page = await context.newPage();
  await page.goto(`${app.url}${link.pathname}${link.search}`);
  await Promise.all([page.waitForURL(`${app.url}/account`), page.getByRole('button').click()]);
  await within('closing the sign-in page', page.close());
}

interface Seen {
  thanks: string | null;
  join: boolean;
  button: string | null;
  answer: { member: boolean; plan: string | null; token: string | null };
  probe: string;
  asked: number;
}

/** What the reader sees on the host page, and what the page's scripts learned. */
async function visit(context: BrowserContext, url: string, shot?: string): Promise<Seen> {
  const page: Page = await context.newPage();
  const errors = watchErrors(page);
  let asked = 0;
  page.on('request', (request) => {
    if (request.url() === `${app.url}/member/status`) asked++;
  });
  await page.goto(url);
  const widget = page.locator('membership-goal');
  await expect.poll(() => widget.locator('.count').textContent()).toContain('612');
  await page.waitForFunction(() =>
    document.querySelector('[data-membership-button],[data-membership-thanks]'),
  );
  const thanks = widget.locator('.thanks');
  const seen: Seen = {
    thanks: (await thanks.isVisible()) ? await thanks.textContent() : null,
    join: await widget.locator('a.join').isVisible(),
    button: await page.locator('[data-membership-button],[data-membership-thanks]').textContent(),
    answer: await within(
      `membership.ready on ${url}`,
      page.evaluate(
        () => (window as unknown as { membership: { ready: Promise<Seen['answer']> } }).membership.ready,
      ),
    ),
    probe: await within(
      `the probe on ${url}`,
      page.evaluate(() => (window as unknown as { probe: Promise<string> }).probe),
    ),
    asked,
  };
  if (shot) await screenshot(page, shot);
  // On a configured origin nothing fails; elsewhere the probe's refusal is the only error.
  if (url.startsWith(site.url)) expect(errors).toEqual([]);
  await within(`closing ${url}`, page.close());
  return seen;
}

/** What the reader sees in the iframe embed on the host page. */
async function visitFrame(context: BrowserContext, url: string) {
  const page = await context.newPage();
  await page.goto(url);
  const frame = page.frameLocator('iframe');
  await frame.locator('.count').waitFor();
  // The frame asks after it loaded: give its answer time to arrive before reading.
  await page.waitForLoadState('networkidle');
  const thanks = frame.locator('.thanks');
  const seen = {
    thanks: (await thanks.isVisible()) ? await thanks.textContent() : null,
    join: await frame.locator('a.join').isVisible(),
  };
  await within(`closing ${url}`, page.close());
  return seen;
}

// Once in a clean-clone CI run the sign-out test hung until its 60 s limit (as cross-site's logout
// test did; not reproduced in 12 runs under load). Its waits are now bounded and named, and the
// block runs once more before it counts as failed, so one stall of the browser does not fail CI;
// vitest prints "(retry x1)" when it happens.
describe("the newsroom's site knows its members, in Chromium", { retry: 1 }, () => {
  for (const width of [375, 1280]) {
    it(`when a member signed in on the account pages opens an article on the configured site, then the widget and the button thank them (${width} px)`, async () => {
      const context = await newContext(width);
      await signIn(context);
      const seen = await visit(context, `${site.url}/article`, 'member-site-thanks');
      expect(seen).toMatchObject({
        thanks: 'Thank you for being a member',
        join: false,
        button: 'Thank you for being a member',
        answer: { member: true, plan: 'supporter' },
      });
      expect(seen.probe).toMatch(/^read \{"member":true,"plan":"supporter"/);

      // The site's own perks: its server verifies the token against the service's keys.
      const keys = createLocalJWKSet(await (await fetch(`${app.url}/.well-known/jwks.json`)).json());
      const { payload } = await jwtVerify(String(seen.answer.token), keys, {
        audience: site.url,
        currentDate: clock.now(),
      });
      expect(payload).toMatchObject({ member: true, plan: 'supporter' });

      const uk = await visit(context, `${site.url}/stattia`);
      expect(uk).toMatchObject({ thanks: 'Дякуємо, що ви член нашої спільноти', join: false });
      expect(uk.button).toBe('Дякуємо, що ви член нашої спільноти');
      expect(await visitFrame(context, `${site.url}/framed`)).toEqual({
        thanks: 'Thank you for being a member',
        join: false,
      });
      await context.close();
    });
  }

  it('when a reader who is not a member opens the article, then the widget and the button ask', async () => {
    const context = await newContext(375);
    const seen = await visit(context, `${site.url}/article`, 'member-site-ask');
    expect(seen).toMatchObject({
      thanks: null,
      join: true,
      button: 'Become a member',
      answer: { member: false, plan: null },
    });
    expect(await visitFrame(context, `${site.url}/framed`)).toEqual({ thanks: null, join: true });
    await context.close();
  });

  it('when the member signs out, then the site asks again', async () => {
    const context = await newContext(1280);
    await signIn(context);
    expect((await visit(context, `${site.url}/article`)).answer.member).toBe(true);
    const page = await context.newPage();
    await page.goto(`${app.url}/account`);
    // The page is at /account already: wait for the sign-out's own answer, not for the address.
    await Promise.all([
      page.waitForResponse((r) => r.url() === `${app.url}/account/sign-out`),
      page.getByRole('button', { name: 'Sign out', exact: true }).click(),
    ]);
    await page.waitForURL(`${app.url}/account`);
    await within('closing the account page', page.close());
    expect(await visit(context, `${site.url}/article`)).toMatchObject({
      thanks: null,
      join: true,
      button: 'Become a member',
      answer: { member: false },
    });
    await context.close();
  });

  it('when an origin that is not configured opens the same article, then it learns nothing: the ask, no answer it can read', async () => {
    const context = await newContext(1280);
    await signIn(context);
    // Another origin of the same site (the cookie would go along) and another site.
    for (const url of [`${stranger.url}/article`, `${site.url.replace('127.0.0.1', 'localhost')}/article`]) {
      const seen = await visit(context, url);
      expect({ url, ...seen }).toMatchObject({
        url,
        thanks: null,
        join: true,
        button: 'Become a member',
        answer: { member: false, plan: null, token: null },
        probe: 'refused',
        // Only the probe asked; the embeds did not even ask from here.
        asked: 1,
      });
      const framed = url.replace('/article', '/framed');
      expect({ framed, ...(await visitFrame(context, framed)) }).toEqual({
        framed,
        thanks: null,
        join: true,
      });
    }
    // The same browser is still a member on the configured site.
    expect((await visit(context, `${site.url}/article`)).thanks).toBe('Thank you for being a member');
    await context.close();
  });
});
