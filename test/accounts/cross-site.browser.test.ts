import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import { launchChromium, startHostSite, within } from '../support/browser.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';

// Another site's page that auto-submits a form to our account routes, in a real browser. The
// members service is at 127.0.0.1 and the other site at localhost: two sites, so the browser sends
// what it sends for a cross-site form (SameSite=Lax lets a top-level POST through and keeps the
// cookie it sets). Login CSRF signs the victim in as the attacker; logout CSRF signs them out.

let app: TestApp;
let browser: Browser;
let attacker: Awaited<ReturnType<typeof startHostSite>>;
let attackerToken = '';
const clock = manualClock(new Date());

async function linkFor(email: string): Promise<string> {
  clock.advance(3 * 60_000); // past the one-email-per-two-minutes window of an address
  const res = await fetch(`${app.url}/account/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });
  expect(res.status).toBe(202);
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ template: 'account-sign-in', 'to.email': email })
    .sort({ createdAt: -1 })
    .lean();
  const link = new URL(String(job!.data.signInUrl));
  return `${app.url}${link.pathname}${link.search}`;
}

const autoSubmit = (action: string, fields: Record<string, string>) =>
  `<!doctype html><html lang="en"><head><title>Cute cats</title></head><body>
  <form method="post" action="${action}">${Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
    .join('')}</form>
  <script>document.forms[0].submit()</script></body></html>`;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
  for (const email of ['attacker@example.com', 'victim@example.com']) {
    await createMemberOnce(app.deps.db, {
      email,
      locale: 'en',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2026-10-01T00:00:00Z'),
      joinedVia: `sub_${email.slice(0, 6)}`,
    });
  }
  // The attacker asks for a sign-in link to their own account and plants its token on their site.
  attackerToken = new URL(await linkFor('attacker@example.com')).searchParams.get('token')!;
  attacker = await startHostSite({
    '/login': autoSubmit(`${app.url}/account/sign-in/verify`, { token: attackerToken }),
    '/logout': autoSubmit(`${app.url}/account/sign-out`, {}),
    '/logout-everywhere': autoSubmit(`${app.url}/account/sign-out-everywhere`, {}),
  });
  browser = await launchChromium();
});

/** A context whose every wait fails within 10 s, naming what it waited for, instead of hanging. */
async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  return context;
}
afterAll(async () => {
  await browser?.close();
  await attacker?.close();
  await app?.close();
});

/** The other site, by a name that makes it another site than the members service's 127.0.0.1. */
const otherSite = (path: string) => `${attacker.url.replace('127.0.0.1', 'localhost')}${path}`;

/** Visits the attacker's page and waits until its form was submitted and answered. */
async function visitAttacker(context: BrowserContext, path: string): Promise<number> {
  const page = await context.newPage();
  const answered = page.waitForResponse(
    (res) => res.url().startsWith(app.url) && res.request().method() === 'POST',
  );
  await page.goto(otherSite(path));
  const status = (await answered).status();
  await within(`closing ${path}`, page.close());
  return status;
}

/** Who /account says is signed in, in this browser; undefined when it shows the sign-in form. */
async function signedInAs(context: BrowserContext): Promise<string | undefined> {
  const page = await context.newPage();
  await page.goto(`${app.url}/account`);
  const email = page.locator('dt:text-is("Email") + dd');
  const who = (await email.count()) ? ((await email.textContent()) ?? undefined) : undefined;
  if (!who) expect(await page.locator('form[action="/account/sign-in"]').count()).toBe(1);
  await within('closing /account', page.close());
  return who;
}

/** The victim signs in the way they should: their emailed link, then the button. */
async function signInVictim(context: BrowserContext): Promise<void> {
  const page = await context.newPage();
  await page.goto(await linkFor('victim@example.com'));
  await Promise.all([page.waitForURL(`${app.url}/account`), page.getByRole('button').click()]);
  await within('closing the sign-in page', page.close());
}

// Twice in clean-clone CI runs the logout test hung until its time limit (not reproduced in 6
// runs, under load too). Every wait fails within 10 s naming what it waited for (page.close too,
// through within()), the sign-out waits for its own answer before the page is closed, and the block
// runs once more before it counts as failed, so one stall of the browser does not fail CI.
describe('account forms posted from another site, in Chromium', { retry: 1 }, () => {
  it("when another site auto-submits the attacker's sign-in link (login CSRF), then the victim's browser is not signed in as the attacker", async () => {
    const context = await newContext();
    expect(await signedInAs(context)).toBeUndefined();
    const status = await visitAttacker(context, '/login');
    expect(await signedInAs(context)).toBeUndefined();
    expect(status).toBe(403);
    await context.close();
  });

  it('when another site auto-submits sign-out or sign-out-everywhere (logout CSRF), then the member stays signed in', async () => {
    const context = await newContext();
    await signInVictim(context);
    expect(await signedInAs(context)).toBe('victim@example.com');
    for (const path of ['/logout', '/logout-everywhere']) {
      const status = await visitAttacker(context, path);
      expect(await signedInAs(context)).toBe('victim@example.com');
      expect(status).toBe(403);
    }

    // Our own button still signs out. The page is at /account already: wait for the sign-out's
    // own answer, not for the address, so the page is not closed under its form's navigation (a
    // close there hung this test in CI twice, as it did member-site.browser.test.ts).
    const page = await context.newPage();
    await page.goto(`${app.url}/account`);
    await Promise.all([
      page.waitForResponse((r) => r.url() === `${app.url}/account/sign-out`),
      page.getByRole('button', { name: 'Sign out', exact: true }).click(),
    ]);
    await page.waitForURL(`${app.url}/account`);
    await within('closing the account page', page.close());
    expect(await signedInAs(context)).toBeUndefined();
    await context.close();
  });

  it("when the sign-in link is opened, then the page asks first and signs in only by its own button's POST", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(await linkFor('victim@example.com'));
    expect(await signedInAs(context)).toBeUndefined();
    await Promise.all([page.waitForURL(`${app.url}/account`), page.getByRole('button').click()]);
    expect(await signedInAs(context)).toBe('victim@example.com');
    await context.close();
  });
});
