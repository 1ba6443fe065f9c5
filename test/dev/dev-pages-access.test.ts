import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The development home page lists the newest mail, sign-in links included, and /dev/mail shows
// each message. They answer only a browser on this machine, at a name of this machine: a
// request relayed from elsewhere, or a page of another site whose name resolves here (DNS
// rebinding), gets nothing.

let app: TestApp;
let mailDir: string;
const MESSAGE = '2026-11-27T12-00-00-000Z-account-sign-in';

beforeAll(async () => {
  mailDir = mkdtempSync(path.join(tmpdir(), 'dev-mail-'));
  writeFileSync(
    path.join(mailDir, `${MESSAGE}.json`),
    JSON.stringify({ subject: 'Your sign-in link', to: { email: 'olena@example.com' } }),
  );
  writeFileSync(
    path.join(mailDir, `${MESSAGE}.html`),
    '<a href="http://localhost:3000/account/sign-in/verify?token=secret-token">Sign in</a>',
  );
  app = await startTestApp({
    config: testConfig({
      NODE_ENV: 'development',
      PUBLIC_BASE_URL: 'http://localhost:3000',
      DEV_MAIL_DIR: mailDir,
      DEMO_DRIVE: 'false',
    }),
  });
});
afterAll(async () => {
  await app.close();
  rmSync(mailDir, { recursive: true, force: true });
});

/** A GET with exactly these headers (fetch will not send another Host). */
function get(pathname: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, headers }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const PAGES = ['/', `/dev/mail/${MESSAGE}.html`];

describe('the development pages', () => {
  it('when a browser on this machine opens them by a local name, then they answer', async () => {
    const { port } = new URL(app.url);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost:3000', `[::1]:${port}`]) {
      const home = await get('/', { host });
      expect(home.status).toBe(200);
      expect(home.body).toContain('Your sign-in link');
      const mail = await get(`/dev/mail/${MESSAGE}.html`, { host });
      expect(mail.status).toBe(200);
      expect(mail.body).toContain('secret-token');
    }
  });

  it('when the Host is another name (DNS rebinding), then 403 and no mail is shown', async () => {
    for (const page of PAGES) {
      for (const host of ['evil.example', 'evil.example:3000', 'localhost.evil.example']) {
        const res = await get(page, { host });
        expect(res.status, `${page} for Host ${host}`).toBe(403);
        expect(res.body).not.toContain('secret-token');
        expect(res.body).not.toContain('Your sign-in link');
      }
    }
  });

  it('when the request was relayed from another machine (X-Forwarded-For through a local proxy), then 403', async () => {
    for (const page of PAGES) {
      const res = await get(page, { host: 'localhost:3000', 'x-forwarded-for': '203.0.113.9' });
      expect(res.status).toBe(403);
      expect(res.body).not.toContain('secret-token');
      expect(res.body).not.toContain('Your sign-in link');
    }
  });
});
