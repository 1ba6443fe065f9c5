import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { signInTokenModel } from '../../src/accounts/sign-in-token.model.js';
import { emailModels } from '../../src/email/email.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { formatMoney } from '../../src/shared/messages.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import {
  DEPLOYED_ANSWER_FLOORS,
  manualClock,
  startTestApp,
  TEST_ENV,
  type TestApp,
  testConfig,
} from '../support/test-app.js';

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
  const member = await membershipModels(app.deps.db).Member.create({
    email: 'olena@example.com',
    name: 'Olena',
    stripeCustomerId: 'cus_olena',
    status: 'active',
    source: 'checkout',
    joinedAt: new Date('2026-10-01T00:00:00Z'),
    joinedVia: 'sub_olena',
  });
  await membershipModels(app.deps.db).Subscription.create({
    _id: 'sub_olena',
    memberId: member._id,
    customerId: 'cus_olena',
    status: 'active',
    plan: 'supporter',
    interval: 'month',
    amount: 500,
    currency: 'eur',
    currentPeriodEnd: new Date('2026-12-01T00:00:00Z'),
    cancelAtPeriodEnd: false,
    lastEventCreated: 1,
    lastEventId: 'evt_1',
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});
beforeEach(() => {
  clock.advance(10 * 60_000); // a fresh rate-limit window for each test
});

const signIn = (email: string, url = app.url) =>
  fetch(`${url}/account/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  });
const latestLink = async () => {
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ template: 'account-sign-in' })
    .sort({ createdAt: -1 })
    .lean();
  return new URL(String(job!.data.signInUrl));
};
const verify = (token: string) =>
  fetch(`${app.url}/account/sign-in/verify`, {
    method: 'POST',
    body: new URLSearchParams({ token }),
    redirect: 'manual',
  });
const signInEmails = () => emailModels(app.deps.db).EmailJob.countDocuments({ template: 'account-sign-in' });

describe('magic-link sign-in', () => {
  it('when a member asks, then a single-use link is emailed and only its hash is stored', async () => {
    const res = await signIn('  Olena@Example.com ');
    expect(res.status).toBe(202);
    const link = await latestLink();
    expect(link.pathname).toBe('/account/sign-in/verify');
    const token = link.searchParams.get('token')!;
    expect(token.length).toBeGreaterThanOrEqual(40);
    const stored = await signInTokenModel(app.deps.db).find().lean();
    expect(stored.map((t) => t._id)).not.toContain(token);
    expect(stored.every((t) => /^[0-9a-f]{64}$/.test(t._id))).toBe(true);
  });

  it('when the address is not a member, then the answer is identical and nothing is sent', async () => {
    const before = await signInEmails();
    const member = await signIn('olena@example.com');
    clock.advance(10 * 60_000);
    const stranger = await signIn('nobody@example.com');
    expect(stranger.status).toBe(member.status);
    expect(await stranger.json()).toEqual(await member.json());
    expect(await signInEmails()).toBe(before + 1);
  });

  it('when members and strangers ask, then each answer takes as long, so the time does not tell who is a member', async () => {
    // The floor as deployed (250 ms); the other tests run with a small one.
    const deployed = await startTestApp({
      db: app.deps.db,
      config: testConfig(DEPLOYED_ANSWER_FLOORS),
      deps: { clock, stripe: app.deps.stripe },
    });
    onTestFinished(() => deployed.close());
    const timed = async (email: string) => {
      clock.advance(10 * 60_000); // a fresh window: the member's link is written every time
      const started = performance.now();
      expect((await signIn(email, deployed.url)).status).toBe(202);
      return performance.now() - started;
    };
    const member: number[] = [];
    const stranger: number[] = [];
    for (let i = 0; i < 4; i++) {
      member.push(await timed('olena@example.com'));
      stranger.push(await timed(`stranger${i}@example.com`));
    }
    for (const ms of [...member, ...stranger]) expect(ms).toBeGreaterThanOrEqual(245);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length / 2]!;
    expect(Math.abs(median(member) - median(stranger))).toBeLessThan(100);
  });

  it('when one address asks five times in a row, then one email is sent', async () => {
    const before = await signInEmails();
    for (let i = 0; i < 5; i++) expect((await signIn('olena@example.com')).status).toBe(202);
    expect(await signInEmails()).toBe(before + 1);
  });

  it('when the link is opened (GET), then nothing is spent; the button (POST) signs in once', async () => {
    await signIn('olena@example.com');
    const token = (await latestLink()).searchParams.get('token')!;
    const opened = await fetch(`${app.url}/account/sign-in/verify?token=${token}`);
    expect(opened.status).toBe(200);
    expect(await opened.text()).toContain(`<input type="hidden" name="token" value="${token}">`);

    const first = await verify(token);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/account');
    expect(first.headers.get('set-cookie')).toMatch(
      /^md_member=[\w-]{43}; Max-Age=\d+; Path=\/; Expires=.*; HttpOnly; SameSite=Lax$/,
    );
    const again = await verify(token);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('expired or was already used');
  });

  it('when the link is older than 15 minutes, then it no longer signs in', async () => {
    await signIn('olena@example.com');
    const token = (await latestLink()).searchParams.get('token')!;
    clock.advance(15 * 60_000 + 1);
    expect((await verify(token)).status).toBe(400);
  });
});

describe('account page', () => {
  async function sessionCookie(): Promise<string> {
    await signIn('olena@example.com');
    const res = await verify((await latestLink()).searchParams.get('token')!);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it('when a signed-in member opens it, then it shows status, plan, amount and next payment date', async () => {
    const html = await (
      await fetch(`${app.url}/account`, { headers: { cookie: await sessionCookie() } })
    ).text();
    expect(html).toContain('<dd data-field="status">active</dd>');
    expect(html).toContain('<dd data-field="plan">supporter, monthly</dd>');
    expect(html).toContain('<dd data-field="amount">€5.00</dd>');
    expect(html).toContain('<dt>Next payment</dt><dd data-field="next-payment">1 December 2026</dd>');
    expect(html).toContain('action="/account/billing-portal"');
  });

  it('when a signed-in member opens it in Ukrainian, then every label, value and button is in Ukrainian', async () => {
    const html = await (
      await fetch(`${app.url}/account?locale=uk`, { headers: { cookie: await sessionCookie() } })
    ).text();
    expect(html).toContain('<h1>Ваше членство</h1>');
    expect(html).toContain('<dt>Стан</dt><dd data-field="status">активне</dd>');
    expect(html).toContain('<dt>Рівень</dt><dd data-field="plan">supporter, щомісяця</dd>');
    expect(html).toContain(`<dt>Сума</dt><dd data-field="amount">${formatMoney(500, 'EUR', 'uk')}</dd>`);
    expect(html).toContain('<dt>Наступний платіж</dt><dd data-field="next-payment">1 грудня 2026 р.</dd>');
    expect(html).toContain('<button type="submit">Змінити картку або скасувати</button>');
    expect(html).toContain('<button type="submit">Вийти на всіх пристроях</button>');
  });

  it('when the cookie is missing, forged, unsigned (alg none) or for another audience, then the sign-in form is shown', async () => {
    const forged = jwt.sign({}, 'another-secret-that-is-long-enough-000', {
      subject: 'x',
      audience: 'member',
      issuer: 'http://members.test',
    });
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"x","aud":"member","iss":"http://members.test"}').toString('base64url')}.`;
    const staff = jwt.sign({}, 'development-only-session-secret-not-for-production', {
      subject: 'x',
      audience: 'staff',
      issuer: 'http://members.test',
    });
    for (const cookie of ['', `md_member=${forged}`, `md_member=${unsigned}`, `md_member=${staff}`]) {
      const html = await (await fetch(`${app.url}/account`, { headers: { cookie } })).text();
      expect(html).toContain('action="/account/sign-in"');
      expect(html).not.toContain('data-field="status"');
    }
  });

  it('when the member asks to change the card, then they are sent to a Stripe Customer Portal session', async () => {
    const res = await fetch(`${app.url}/account/billing-portal`, {
      method: 'POST',
      headers: { cookie: await sessionCookie() },
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^https:\/\//);
    const call = recorder.requests.find((r) => r.path === '/v1/billing_portal/sessions')!;
    expect(call).toMatchObject({
      status: 200,
      params: { customer: 'cus_olena', return_url: 'http://members.test/account' },
    });
  });

  it('when someone without a session posts to the portal route, then 401', async () => {
    expect((await fetch(`${app.url}/account/billing-portal`, { method: 'POST' })).status).toBe(401);
  });
});

describe('abuse', () => {
  it('when one IP sends a burst of sign-in requests, then it gets 429 in the error format', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await signIn(`burst${i}@example.com`)).status);
    expect(statuses).toContain(429);
    const res = await signIn('again@example.com');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  });
});
