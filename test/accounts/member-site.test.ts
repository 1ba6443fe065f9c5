import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { createMemberOnce } from '../../src/memberships/member-keys.js';
import { listMemberSubscription, membershipModels } from '../../src/memberships/membership.model.js';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The newsroom's own site asks whether its reader is a member (src/accounts/README.md, "The site
// knows its members"): a configured origin gets member-or-not, the plan and a JWT for its audience
// that verifies against /.well-known/jwks.json and lives minutes; sign-out and a lapse end it; any
// other origin gets no answer and no CORS header.

let app: TestApp;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
const SITE = 'https://www.newsroom.example';
const OTHER_SITE = 'https://tracker.example';
const EMAIL = 'olena@example.com';
let memberId = '';

beforeAll(async () => {
  app = await startTestApp({
    config: testConfig({
      MEMBER_SITE_ORIGINS: `${SITE},https://newsroom.example`,
      MEMBER_SITE_TOKEN_MINUTES: '5',
    }),
    deps: { clock },
  });
  const { member } = await createMemberOnce(app.deps.db, {
    email: EMAIL,
    name: 'Olena',
    stripeCustomerId: 'cus_olena',
    locale: 'uk',
    status: 'active',
    source: 'checkout',
    joinedAt: new Date('2026-10-01T00:00:00Z'),
    joinedVia: 'sub_olena',
  });
  memberId = String(member._id);
  await membershipModels(app.deps.db).Subscription.create({
    _id: 'sub_olena',
    memberId: member._id,
    customerId: 'cus_olena',
    status: 'active',
    plan: 'supporter',
    interval: 'month',
    amount: 700,
    currency: 'eur',
    cancelAtPeriodEnd: false,
    lastEventCreated: 1,
    lastEventId: 'evt_1',
  });
  await listMemberSubscription(app.deps.db, member._id, 'sub_olena');
});
afterAll(async () => {
  await app.close();
});
beforeEach(() => {
  clock.advance(10 * 60_000); // a fresh sign-in email window
});

const OWN_PAGE = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };

/** Signs in through the emailed link's button; returns the `md_member=…` cookie pair. */
async function signIn(): Promise<string> {
  await fetch(`${app.url}/account/sign-in`, {
    method: 'POST',
    headers: OWN_PAGE,
    body: new URLSearchParams({ email: EMAIL }),
  });
  const job = await emailModels(app.deps.db)
    .EmailJob.findOne({ template: 'account-sign-in' })
    .sort({ createdAt: -1 })
    .lean();
  const token = new URL(String(job!.data.signInUrl)).searchParams.get('token')!;
  const res = await fetch(`${app.url}/account/sign-in/verify`, {
    method: 'POST',
    headers: OWN_PAGE,
    body: new URLSearchParams({ token }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

const ask = (origin: string | undefined, cookie?: string) =>
  fetch(`${app.url}/member/status`, {
    headers: { ...(origin ? { origin } : {}), ...(cookie ? { cookie } : {}) },
  });

const corsOf = (res: Response) => {
  const names: string[] = [];
  res.headers.forEach((_value, name) => {
    if (name.startsWith('access-control-')) names.push(name);
  });
  return names;
};

async function jwks() {
  const res = await fetch(`${app.url}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return createLocalJWKSet(await res.json());
}

async function setStatus(status: 'active' | 'canceled') {
  await membershipModels(app.deps.db).Member.updateOne({ _id: memberId }, { $set: { status } });
}

describe('a configured site asks about its reader', () => {
  it('when the member is signed in, then the site learns "member" and the plan, with CORS for its origin only', async () => {
    const cookie = await signIn();
    const res = await ask(SITE, cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(SITE);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(body).toMatchObject({ member: true, plan: 'supporter' });
    expect(JSON.stringify(body)).not.toContain(EMAIL);
  });

  it('when the site verifies the token against the JWKS, then it holds member, plan, its audience and minutes of life, and no personal data', async () => {
    const cookie = await signIn();
    const { token } = await (await ask(SITE, cookie)).json();
    const { payload, protectedHeader } = await jwtVerify(token, await jwks(), {
      audience: SITE,
      issuer: 'http://members.test',
      currentDate: clock.now(),
    });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload).toMatchObject({ member: true, plan: 'supporter', aud: SITE });
    expect(payload.exp! - payload.iat!).toBe(5 * 60);
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'member', 'plan']);
    // Another of the newsroom's sites cannot use this site's token.
    await expect(
      jwtVerify(token, await jwks(), { audience: 'https://newsroom.example', currentDate: clock.now() }),
    ).rejects.toThrow(/aud/);
  });

  it('when the token is older than its minutes, then it no longer verifies', async () => {
    const cookie = await signIn();
    const { token } = await (await ask(SITE, cookie)).json();
    const later = new Date(clock.now().getTime() + 5 * 60_000 + 1000);
    await expect(jwtVerify(token, await jwks(), { audience: SITE, currentDate: later })).rejects.toThrow(
      /exp/,
    );
  });

  it('when the reader is not signed in, then the answer is "not a member", signed as such', async () => {
    const res = await ask(SITE);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ member: false, plan: null });
    expect(decodeJwt(body.token)).toMatchObject({ member: false, plan: null });
  });

  it('when the member signs out, then the same browser is "not a member"', async () => {
    const cookie = await signIn();
    expect((await (await ask(SITE, cookie)).json()).member).toBe(true);
    const out = await fetch(`${app.url}/account/sign-out`, {
      method: 'POST',
      headers: { ...OWN_PAGE, cookie },
      redirect: 'manual',
    });
    expect(out.status).toBe(303);
    expect(await (await ask(SITE, cookie)).json()).toMatchObject({ member: false, plan: null });
  });

  it('when the membership lapses (canceled), then a signed-in reader is "not a member"', async () => {
    const cookie = await signIn();
    try {
      await setStatus('canceled');
      const body = await (await ask(SITE, cookie)).json();
      expect(body).toMatchObject({ member: false, plan: null });
      expect(decodeJwt(body.token).member).toBe(false);
    } finally {
      await setStatus('active');
    }
  });
});

describe('an origin that is not configured', () => {
  it('when it asks, with the cookie or without an origin, then it gets a 403 and no CORS header: it learns nothing', async () => {
    const cookie = await signIn();
    for (const origin of [OTHER_SITE, 'https://www.newsroom.example.evil.example', 'null', undefined]) {
      const res = await ask(origin, cookie);
      const body = await res.json();
      expect({ origin, status: res.status, cors: corsOf(res), code: body.error?.code }).toEqual({
        origin,
        status: 403,
        cors: [],
        code: 'origin_not_allowed',
      });
      expect(JSON.stringify(body)).not.toMatch(/member"|plan|token/);
    }
  });
});

describe('our own iframe embed', () => {
  it('when the framed page asks same-origin (no Origin), then it gets the answer without CORS headers; a same-site page does not', async () => {
    const cookie = await signIn();
    const own = await fetch(`${app.url}/member/status`, {
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(own.status).toBe(200);
    expect(corsOf(own)).toEqual([]);
    expect(await own.json()).toMatchObject({ member: true, plan: 'supporter' });
    const sameSite = await fetch(`${app.url}/member/status`, {
      headers: { cookie, 'sec-fetch-site': 'same-site' },
    });
    expect(sameSite.status).toBe(403);
  });
});

describe('the keys', () => {
  it('when anyone fetches the JWKS, then it lists the public key only, readable from any origin', async () => {
    const res = await fetch(`${app.url}/.well-known/jwks.json`, { headers: { origin: OTHER_SITE } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const { keys } = await res.json();
    expect(keys).toEqual([
      { kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: 'dev-only', alg: 'EdDSA', use: 'sig' },
    ]);
  });

  it('when production has MEMBER_SITE_ORIGINS without MEMBER_SITE_KEYS, then it refuses to start', async () => {
    const { loadConfig } = await import('../../src/config/config.js');
    const production = {
      NODE_ENV: 'production',
      PUBLIC_BASE_URL: 'https://members.newsroom.example',
      MEMBER_SITE_ORIGINS: SITE,
    };
    expect(() => loadConfig(production)).toThrow(/MEMBER_SITE_KEYS: is required in production/);
    expect(() => loadConfig({ ...production, MEMBER_SITE_ORIGINS: 'http://www.newsroom.example' })).toThrow(
      /MEMBER_SITE_ORIGINS: must be https/,
    );
  });
});
