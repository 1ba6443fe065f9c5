import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { signLink } from '../../src/infra/signed-links.js';
import { staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Assertions on the log lines the app really writes.

const logs = new PassThrough();
let logText = '';
logs.on('data', (chunk) => {
  logText += chunk;
});
const lines = () => logText.trim().split('\n').filter(Boolean);
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ deps: { logger: createLogger({ level: 'info', destination: logs }) } });
});
afterAll(() => app.close());

const settle = () => new Promise((r) => setTimeout(r, 50));
const ADDRESS = 'olena.reader@example.com';

describe('log redaction', () => {
  it('when an error with a code is logged, then its code stays readable (ECONNREFUSED, 11000, resource_missing)', async () => {
    const logger = app.deps.logger;
    for (const code of ['ECONNREFUSED', 11000, 'resource_missing']) {
      logger.error({ err: Object.assign(new Error('failed'), { code }) }, 'provider call failed');
    }
    await settle();
    const codes = lines()
      .map((l) => JSON.parse(l) as { err?: { code?: unknown } })
      .filter((l) => l.err)
      .map((l) => l.err!.code);
    expect(codes).toEqual(['ECONNREFUSED', 11000, 'resource_missing']);
  });

  it('when a token sits at the top level, one or two levels deep, then the line does not contain it', async () => {
    app.deps.logger.info(
      { token: 'tok-top-secret', job: { token: 'tok-one-deep' }, data: { link: { token: 'tok-two-deep' } } },
      'tokens',
    );
    await settle();
    const line = lines().find((l) => l.includes('"msg":"tokens"'))!;
    expect(line).not.toMatch(/tok-(top-secret|one-deep|two-deep)/);
    expect(line.match(/\[redacted\]/g)).toHaveLength(3);
  });

  it('when a reader opens their unsubscribe and my-data links, then the access log keeps no address', async () => {
    const secret = app.deps.config.session.secret;
    const e = encodeURIComponent(ADDRESS);
    const exp = Math.floor(app.deps.clock.now().getTime() / 1000) + 3600;
    await fetch(`${app.url}/newsletters/unsubscribe?e=${e}&sig=${signLink(secret, 'unsubscribe', ADDRESS)}`);
    await fetch(
      `${app.url}/newsletters/my-data?e=${e}&exp=${exp}&sig=${signLink(secret, 'my-data', ADDRESS, String(exp))}`,
    );
    await settle();
    const access = lines().filter(
      (l) => l.includes('/newsletters/unsubscribe') || l.includes('/newsletters/my-data'),
    );
    expect(access.length).toBeGreaterThanOrEqual(2);
    for (const line of access) {
      expect(line).not.toContain('olena.reader');
      expect(line).toContain('e=%5Bredacted%5D');
    }
  });

  it('when an admin looks a reader up by address, then the access log shows the route, not the address', async () => {
    const admin = await staffToken(app.url, app.deps.db, 'admin');
    const res = await fetch(`${app.url}/admin/newsletters/readers/${encodeURIComponent(ADDRESS)}`, {
      headers: { authorization: admin.authorization },
    });
    expect(res.status).toBe(200);
    await fetch(`${app.url}/admin/newsletters/readers/${ADDRESS}`, {
      method: 'DELETE',
      headers: { authorization: admin.authorization },
    });
    // Express routes paths in any case; the log must not keep the address for a spelling it routes.
    await fetch(`${app.url}/ADMIN/Newsletters/readers/${encodeURIComponent(ADDRESS)}`);
    await fetch(`${app.url}/no-such-page/${ADDRESS}`);
    await settle();
    expect(logText).not.toContain('olena.reader');
    const access = lines().filter((l) => l.includes('/admin/newsletters/readers/'));
    expect(access.length).toBeGreaterThanOrEqual(2);
    for (const line of access) {
      expect(line).not.toContain('olena.reader');
      expect(line).toContain('/admin/newsletters/readers/[redacted]');
    }
    expect(logText).not.toContain(admin.accessToken);
  });

  it('when staff search for a reader by address, under any parameter name, then the access log keeps no address', async () => {
    const e = encodeURIComponent(ADDRESS);
    for (const path of [
      `/console/members?q=${e}`,
      `/console/members?q=${ADDRESS}`,
      `/anything?filter=x&who=${e}`,
      `/anything?${e}`,
      '/console/members?q=Olena+Kovalenko',
    ])
      await fetch(`${app.url}${path}`);
    await settle();
    expect(logText).not.toContain('olena.reader');
    expect(logText).not.toContain('Kovalenko');
    const access = lines().filter((l) => l.includes('/console/members') || l.includes('/anything'));
    expect(access.length).toBeGreaterThanOrEqual(5);
    expect(access.join('\n')).toContain('filter=x');
  });
});
