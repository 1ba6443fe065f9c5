import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemberSession } from '../../src/accounts/member-session.js';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/infra/logger.js';
import { createMetricsRegistry } from '../../src/infra/metrics.js';
import { fromRoot } from '../../src/infra/paths.js';
import { DomainEvents } from '../../src/shared/domain-events.js';
import { listRoutes, type RouteInfo } from '../support/routes.js';
import { staffToken } from '../support/staff.js';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

const KEY = `k1-secret-${'s'.repeat(32)}`;
const ISSUER = 'http://members.test';
const ROLES = ['admin', 'finance', 'editor'] as const;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let staffRoutes: RouteInfo[];
let memberSession: string;
let real: Record<
  (typeof ROLES)[number],
  { authorization: string; accessToken: string; refreshToken: string }
>;

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ STAFF_JWT_KEYS: `k1:${KEY}` }), deps: { clock } });
  const routes = listRoutes(
    createApp({
      ...app.deps,
      events: new DomainEvents(),
      metrics: createMetricsRegistry(),
      logger: createLogger({ level: 'silent' }),
    }),
  );
  staffRoutes = routes.filter((r) => r.staffRoles);
  memberSession = await startMemberSession(
    { db: app.deps.db, clock, sessions: { days: 30, idleDays: 7 } },
    '000000000000000000000001',
  );
  real = {
    admin: await staffToken(app.url, app.deps.db, 'admin'),
    finance: await staffToken(app.url, app.deps.db, 'finance'),
    editor: await staffToken(app.url, app.deps.db, 'editor'),
  };
});
afterAll(() => app.close());

/** The table of staff routes and roles in src/staff/README.md, as `METHOD path` → allowed roles. */
function readmeTable(): Map<string, string[]> {
  const readme = readFileSync(fromRoot('src/staff/README.md'), 'utf8');
  const table = readme.slice(
    readme.indexOf('<!-- staff-roles:start -->'),
    readme.indexOf('<!-- staff-roles:end -->'),
  );
  const rows = new Map<string, string[]>();
  for (const line of table.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const route = /^`(\w+ \S+)`$/.exec(cells[1] ?? '')?.[1];
    if (route)
      rows.set(
        route,
        ROLES.filter((_, i) => cells[i + 2] === 'yes'),
      );
  }
  return rows;
}

const call = (route: RouteInfo, authorization?: string) =>
  fetch(
    `${app.url}${route.path.replace(':slug', 'no-such-drive').replace(':email', 'reader%40example.com')}`,
    {
      method: route.method,
      headers: {
        accept: 'application/json',
        ...(authorization ? { authorization } : {}),
        ...(route.method === 'GET' || route.method === 'DELETE'
          ? {}
          : { 'content-type': 'application/json' }),
      },
      ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { body: '{}' }),
    },
  );

const now = () => Math.floor(clock.now().getTime() / 1000);
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = (overrides: Record<string, unknown> = {}) => {
  const base: Record<string, unknown> = {
    sub: '000000000000000000000001',
    role: 'admin',
    email: 'admin@newsroom.example',
    use: 'staff-access',
    aud: 'staff',
    iss: ISSUER,
    iat: now(),
    exp: now() + 600,
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
};
const hs256 = (payload: object, header: object = { kid: 'k1' }, secret = KEY) =>
  `Bearer ${jwt.sign(payload, secret, { algorithm: 'HS256', header: { alg: 'HS256', ...header } as jwt.JwtHeader })}`;

function attacks(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const finance = real.finance.accessToken.split('.');
  const tamperedPayload = { ...JSON.parse(Buffer.from(finance[1]!, 'base64url').toString()), role: 'admin' };
  return {
    'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT', kid: 'k1' })}.${b64(claims())}.`,
    'HS384 with the real key': `Bearer ${jwt.sign(claims(), KEY, { algorithm: 'HS384', keyid: 'k1' })}`,
    'RS256 (algorithm confusion)': `Bearer ${jwt.sign(claims(), privateKey, { algorithm: 'RS256', keyid: 'k1' })}`,
    expired: hs256(claims({ iat: now() - 1200, exp: now() - 600 })),
    'nbf in the future': hs256(claims({ nbf: now() + 300 })),
    'missing exp': hs256(claims({ exp: undefined })),
    'missing iat': hs256(claims({ iat: undefined })),
    'lifetime longer than issued': hs256(claims({ exp: now() + 86_400 })),
    'issued in the future': hs256(claims({ iat: now() + 3600, exp: now() + 3900 })),
    'wrong issuer': hs256(claims({ iss: 'https://evil.example' })),
    'wrong audience': hs256(claims({ aud: 'member' })),
    'unknown kid': hs256(claims(), { kid: 'k9' }),
    'no kid': hs256(claims(), {}),
    'another secret': hs256(claims(), { kid: 'k1' }, `another-secret-${'x'.repeat(32)}`),
    'no use claim': hs256(claims({ use: undefined })),
    'refresh use claim': hs256(claims({ use: 'staff-refresh' })),
    'unknown role': hs256(claims({ role: 'owner' })),
    'refresh token as access token': `Bearer ${real.admin.refreshToken}`,
    'member session as staff token': `Bearer ${memberSession}`,
    'member session signed with the staff key': hs256({
      sub: '000000000000000000000001',
      aud: 'member',
      iss: ISSUER,
      iat: now(),
      exp: now() + 600,
    }),
    'tampered role': `Bearer ${finance[0]}.${b64(tamperedPayload)}.${finance[2]}`,
    'not a JWT': 'Bearer a.b.c',
    'not Bearer': real.admin.accessToken,
  };
}

describe('staff routes and roles', () => {
  it('when the router is read, then its staff routes and roles are exactly the README table', () => {
    const fromRouter = new Map(staffRoutes.map((r) => [`${r.method} ${r.path}`, [...r.staffRoles!].sort()]));
    const fromReadme = new Map([...readmeTable()].map(([route, roles]) => [route, [...roles].sort()]));
    expect(Object.fromEntries(fromRouter)).toEqual(Object.fromEntries(fromReadme));
    expect(staffRoutes.length).toBeGreaterThanOrEqual(15);
  });

  it('when each role calls each staff route, then the allowed ones get through and the others get 403', async () => {
    const table = readmeTable();
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (const route of staffRoutes) {
      for (const role of ROLES) {
        const res = await call(route, real[role].authorization);
        const allowed = table.get(`${route.method} ${route.path}`)!.includes(role);
        outcomes.push(
          `${role} ${route.method} ${route.path}: ${res.status === 403 ? 'refused' : res.status === 401 ? 'unauthenticated' : 'through'}`,
        );
        expected.push(`${role} ${route.method} ${route.path}: ${allowed ? 'through' : 'refused'}`);
      }
    }
    expect(outcomes).toEqual(expected);
  });
});

describe('staff token attacks', () => {
  it('when a correctly made token is forged with the real key, then it passes (so the attacks below test what they name)', async () => {
    const route = staffRoutes.find((r) => r.method === 'GET' && r.path === '/campaigns')!;
    expect((await call(route, hs256(claims()))).status).toBe(200);
  });

  it('when any of the attack tokens is sent to any staff route, then every answer is 401 unauthorized', async () => {
    const results: string[] = [];
    const expected: string[] = [];
    for (const [name, authorization] of Object.entries(attacks())) {
      for (const route of staffRoutes) {
        const res = await call(route, authorization);
        const body = (await res.json()) as { error?: { code: string } };
        results.push(`${name} → ${route.method} ${route.path}: ${res.status} ${body.error?.code}`);
        expected.push(`${name} → ${route.method} ${route.path}: 401 unauthorized`);
      }
    }
    expect(results).toEqual(expected);
  });
});
