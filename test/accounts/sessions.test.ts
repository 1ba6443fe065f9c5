import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Member sessions that can be ended (docs/security.md): a copied cookie is worth nothing after
// sign-out, "sign out everywhere" ends every browser's session, signing in again replaces the
// session, an unused session ends after MEMBER_SESSION_IDLE_DAYS; and every account form refuses
// a post from another site.

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
const DAY = 86_400_000;
const EMAIL = 'mykola@example.com';

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    config: testConfig({ MEMBER_SESSION_IDLE_DAYS: '7', MEMBER_SESSION_DAYS: '30' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
  await createMemberOnce(app.deps.db, {
    email: EMAIL,
    name: 'Mykola',
    stripeCustomerId: 'cus_mykola',
    locale: 'en',
    status: 'active',
    source: 'checkout',
    joinedAt: new Date('2026-10-01T00:00:00Z'),
    joinedVia: 'sub_mykola',
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});
beforeEach(() => {
  clock.advance(10 * 60_000); // a fresh sign-in email window and rate-limit window
});

// What a browser sends when one of our own pages posts a form.
const OWN_PAGE = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };

async function requestLink(): Promise<string> {
  clock.advance(3 * 60_000); // past the one-email-per-two-minutes window
  const res = await fetch(`${app.url}/account/sign-in`, {
    method: 'POST',
    headers: OWN_PAGE,
    body: new URLSearchParams({ email: EMAIL }),
  });
  expect(res.status).toBe(202);
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ template: 'account-sign-in' })
    .sort({ createdAt: -1 })
    .lean();
  return new URL(String(job!.data.signInUrl)).searchParams.get('token')!;
}

/** Signs in through the emailed link's button; returns the `md_member=…` cookie pair. */
async function signIn(cookie?: string): Promise<string> {
  const token = await requestLink();
  const res = await fetch(`${app.url}/account/sign-in/verify`, {
    method: 'POST',
    headers: { ...OWN_PAGE, ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams({ token }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

const post = (path: string, cookie: string, body: Record<string, string> = {}) =>
  fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { ...OWN_PAGE, cookie },
    body: new URLSearchParams(body),
    redirect: 'manual',
  });

/** Whether this cookie opens the member's account page (or the page asks to sign in). */
async function opensAccount(cookie: string): Promise<boolean> {
  const html = await (await fetch(`${app.url}/account`, { headers: { cookie } })).text();
  if (html.includes(`<dd>${EMAIL}</dd>`)) return true;
  expect(html).toContain('action="/account/sign-in"');
  return false;
}

describe('ending a member session', () => {
  it('when a member signs out, then a copy of their cookie no longer opens the account', async () => {
    const cookie = await signIn();
    const copy = cookie;
    expect(await opensAccount(copy)).toBe(true);

    const out = await post('/account/sign-out', cookie);
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/^md_member=;/);

    expect(await opensAccount(copy)).toBe(false);
    expect((await post('/account/billing-portal', copy)).status).toBe(401);
  });

  it('when a member signs out everywhere, then the sessions of every browser end, and signing in again works', async () => {
    const laptop = await signIn();
    const phone = await signIn();
    expect(await opensAccount(laptop)).toBe(true);
    expect(await opensAccount(phone)).toBe(true);
    expect(await (await fetch(`${app.url}/account`, { headers: { cookie: laptop } })).text()).toContain(
      'action="/account/sign-out-everywhere"',
    );

    const out = await post('/account/sign-out-everywhere', laptop);
    expect(out.status).toBe(303);
    expect(await opensAccount(laptop)).toBe(false);
    expect(await opensAccount(phone)).toBe(false);

    const again = await signIn();
    expect(await opensAccount(again)).toBe(true);
  });

  it('when a browser signs in again, then it gets a new session and its old cookie is ended', async () => {
    const first = await signIn();
    const second = await signIn(first);
    expect(second).not.toBe(first);
    expect(await opensAccount(second)).toBe(true);
    expect(await opensAccount(first)).toBe(false);
  });

  it('when a session is not used for longer than the idle limit, then it ends; in use, it lasts until its lifetime', async () => {
    const idle = await signIn();
    const used = await signIn();
    for (let day = 0; day < 4; day++) {
      clock.advance(6 * DAY);
      expect(await opensAccount(used)).toBe(true);
    }
    expect(await opensAccount(idle)).toBe(false);
    // 24 days in; the lifetime is 30 days from sign-in, however busy the session is.
    clock.advance(6 * DAY + 10 * 60_000);
    expect(await opensAccount(used)).toBe(false);
  });

  it('when the database is read, then it holds no usable session id', async () => {
    const cookie = await signIn();
    const id = cookie.slice('md_member='.length);
    const stored = await app.deps.db.collection('member_sessions').find().toArray();
    expect(stored.length).toBeGreaterThan(0);
    expect(JSON.stringify(stored)).not.toContain(id);
  });

  it("when the reader's data is erased, then their sessions end", async () => {
    const cookie = await signIn();
    expect(await opensAccount(cookie)).toBe(true);
    const { eraseAddressFromTemporaryRecords } = await import('../../src/retention/retention.service.js');
    await eraseAddressFromTemporaryRecords(app.deps.db, EMAIL);
    expect(await opensAccount(cookie)).toBe(false);
  });
});

describe('account forms posted from another site', () => {
  // A browser names the site a form was posted from: Sec-Fetch-Site, or the Origin alone in
  // browsers without it. Each is refused, with the state as it was.
  const FOREIGN: Record<string, string>[] = [
    { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    { 'sec-fetch-site': 'same-site', origin: 'https://blog.members.test' },
    { origin: 'https://evil.example' },
  ];
  const foreignPost = (path: string, headers: Record<string, string>, cookie: string, body = {}) =>
    fetch(`${app.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers, cookie },
      body: new URLSearchParams(body),
      redirect: 'manual',
    });

  it('when another site posts the sign-in link button (login CSRF), then it is refused and the link stays unspent', async () => {
    for (const headers of FOREIGN) {
      const token = await requestLink();
      const res = await foreignPost('/account/sign-in/verify', headers, '', { token });
      expect(res.status).toBe(403);
      expect(res.headers.get('set-cookie')).toBeNull();
      const own = await post('/account/sign-in/verify', '', { token });
      expect(own.status).toBe(303);
    }
  });

  it('when another site posts sign-out or sign-out-everywhere, then the member stays signed in', async () => {
    const cookie = await signIn();
    for (const headers of FOREIGN) {
      for (const path of ['/account/sign-out', '/account/sign-out-everywhere']) {
        const res = await foreignPost(path, headers, cookie);
        expect(res.status).toBe(403);
        expect(res.headers.get('set-cookie')).toBeNull();
        expect(await opensAccount(cookie)).toBe(true);
      }
    }
  });

  it('when another site posts a sign-in request, the billing portal or the card form, then it is refused and nothing is sent', async () => {
    const cookie = await signIn();
    const emails = await emailModels(app.deps.db).EmailJob.countDocuments();
    const portalCalls = recorder.requests.length;
    for (const headers of FOREIGN) {
      clock.advance(3 * 60_000);
      expect((await foreignPost('/account/sign-in', headers, '', { email: EMAIL })).status).toBe(403);
      expect((await foreignPost('/account/billing-portal', headers, cookie)).status).toBe(403);
      expect((await foreignPost('/account/card', headers, cookie, { c: 'cus_x' })).status).toBe(403);
    }
    expect(await emailModels(app.deps.db).EmailJob.countDocuments()).toBe(emails);
    expect(recorder.requests.length).toBe(portalCalls);
  });

  it('when a client that is not a browser posts (no Origin, no Sec-Fetch-Site), then it is served as before', async () => {
    clock.advance(3 * 60_000);
    const res = await fetch(`${app.url}/account/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: EMAIL }),
    });
    expect(res.status).toBe(202);
  });
});
