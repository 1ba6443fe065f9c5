import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnScript } from '../support/server-process.js';
import { STAFF_PASSWORD, staffToken } from '../support/staff.js';
import { databaseUri, manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

const OLD_KEY = `old-key-${'o'.repeat(32)}`;
const NEW_KEY = `new-key-${'n'.repeat(32)}`;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({
    config: testConfig({ STAFF_JWT_KEYS: `k2:${NEW_KEY},k1:${OLD_KEY}` }),
    deps: { clock },
  });
});
afterAll(() => app.close());

const campaign = {
  slug: 'auth-check',
  title: 'Auth check',
  goal: 10,
  startsAt: '2026-11-01T00:00:00Z',
  endsAt: '2026-12-31T00:00:00Z',
};
const createCampaign = (headers: Record<string, string>, slug = campaign.slug) =>
  fetch(`${app.url}/campaigns`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...campaign, slug }),
  });
const claims = { role: 'admin', email: 'admin@newsroom.example', use: 'staff-access' };
const signed = (secret: string, options: jwt.SignOptions) =>
  `Bearer ${jwt.sign({ ...claims, iat: Math.floor(clock.now().getTime() / 1000) }, secret, { algorithm: 'HS256', subject: '000000000000000000000001', expiresIn: 600, ...options })}`;

describe('staff access tokens', () => {
  it('when an editor or admin creates a campaign with a valid token, then it works', async () => {
    const editor = await staffToken(app.url, app.deps.db, 'editor');
    expect((await createCampaign({ authorization: editor.authorization }, 'by-editor')).status).toBe(201);
    const header = JSON.parse(Buffer.from(editor.accessToken.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k2' });
  });

  it('when the scheme is written in another case (bearer, BEARER), then the token still works', async () => {
    const editor = await staffToken(app.url, app.deps.db, 'editor');
    for (const [scheme, slug] of [
      ['bearer', 'by-lower'],
      ['BEARER', 'by-upper'],
    ] as const)
      expect((await createCampaign({ authorization: `${scheme} ${editor.accessToken}` }, slug)).status).toBe(
        201,
      );
  });

  it('when the role is not allowed, then 403', async () => {
    const finance = await staffToken(app.url, app.deps.db, 'finance');
    const res = await createCampaign({ authorization: finance.authorization });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden');
  });

  it('when the token is missing, expired, forged, unsigned, for another audience or issuer, or of an unknown key, then 401', async () => {
    const admin = await staffToken(app.url, app.deps.db, 'admin');
    const base = { audience: 'staff', issuer: 'http://members.test', keyid: 'k2' };
    const none = `Bearer ${Buffer.from('{"alg":"none","typ":"JWT","kid":"k2"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, sub: 'x', aud: 'staff', iss: 'http://members.test', exp: 4102444800 })).toString('base64url')}.`;
    const cases: Record<string, Record<string, string>> = {
      missing: {},
      notBearer: { authorization: admin.accessToken },
      forged: { authorization: signed('some-other-secret-with-enough-length!!', base) },
      unsigned: { authorization: none },
      wrongAudience: { authorization: signed(NEW_KEY, { ...base, audience: 'member' }) },
      wrongIssuer: { authorization: signed(NEW_KEY, { ...base, issuer: 'https://evil.example' }) },
      unknownKey: { authorization: signed(NEW_KEY, { ...base, keyid: 'k9' }) },
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await createCampaign(headers, `case-${name.toLowerCase()}`);
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
    }
    clock.advance(11 * 60_000); // access tokens live 10 minutes
    expect((await createCampaign({ authorization: admin.authorization }, 'case-expired')).status).toBe(401);
  });

  it('when a token was signed with the previous key (rotation), then it is still accepted', async () => {
    await staffToken(app.url, app.deps.db, 'admin');
    const old = signed(OLD_KEY, { audience: 'staff', issuer: 'http://members.test', keyid: 'k1' });
    expect((await createCampaign({ authorization: old }, 'old-key')).status).toBe(201);
  });
});

describe('staff sign-in and refresh', () => {
  it('when the password or the email is wrong, then the same 401', async () => {
    await staffToken(app.url, app.deps.db, 'admin');
    const attempt = (email: string, password: string) =>
      fetch(`${app.url}/staff/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
    const wrongPassword = await attempt('admin@newsroom.example', 'not the password');
    const wrongEmail = await attempt('nobody@newsroom.example', STAFF_PASSWORD);
    expect([wrongPassword.status, wrongEmail.status]).toEqual([401, 401]);
    expect((await wrongPassword.json()) as object).toMatchObject({
      error: { message: 'Wrong email or password.' },
    });
    expect((await wrongEmail.json()) as object).toMatchObject({
      error: { message: 'Wrong email or password.' },
    });
  });

  it('when a refresh token is used, then it gives a new pair once; a replay of it is refused', async () => {
    const { refreshToken } = await staffToken(app.url, app.deps.db, 'editor');
    const refresh = (token: string) =>
      fetch(`${app.url}/staff/token/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: token }),
      });
    const first = await refresh(refreshToken);
    expect(first.status).toBe(200);
    const pair = (await first.json()) as { accessToken: string; refreshToken: string };
    expect(pair.refreshToken).not.toBe(refreshToken);
    expect(
      (await createCampaign({ authorization: `Bearer ${pair.accessToken}` }, 'after-refresh')).status,
    ).toBe(201);
    expect((await refresh(refreshToken)).status).toBe(401);
  });

  it('when the CLI creates the first admin, then that admin can sign in with the printed password', async () => {
    const uri = databaseUri(app.deps.db.name);
    const cli = spawnScript('src/cli/staff.ts', { MONGODB_URI: uri }, [
      'create',
      '--email',
      'First@Newsroom.example',
      '--name',
      'First Admin',
    ]);
    expect(await cli.exited).toBe(0);
    const password = /Password \(shown once.*\): (\S+)/.exec(cli.output())![1]!;
    const res = await fetch(`${app.url}/staff/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'first@newsroom.example', password }),
    });
    expect(res.status).toBe(200);
    const again = spawnScript('src/cli/staff.ts', { MONGODB_URI: uri }, [
      'create',
      '--email',
      'first@newsroom.example',
      '--name',
      'Again',
    ]);
    expect(await again.exited).toBe(1);
    expect(again.output()).toContain('already exists');
  });
});
