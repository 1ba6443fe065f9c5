import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A staff refresh token is spent once, however many copies arrive at the same moment: a stolen copy
// replayed alongside the real one must not yield a second session.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

let ip = 0;
/** Each copy from its own address, as a replay would come: the per-IP limit is not what is tested. */
const refresh = (refreshToken: string) =>
  fetch(`${app.url}/staff/token/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.${++ip >> 8}.${ip & 255}` },
    body: JSON.stringify({ refreshToken }),
  });

describe('refresh token replay', () => {
  it('when 20 copies of one refresh token arrive at once, then exactly one gets a new pair and the rest are refused', async () => {
    for (let round = 0; round < 3; round++) {
      const { refreshToken } = await staffToken(app.url, app.deps.db, 'editor');
      const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(refreshToken)));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 401)).toHaveLength(19);
      const refused = answers.find((a) => a.status === 401)!;
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      // The one new pair works, once.
      const pair = (await answers.find((a) => a.status === 200)!.json()) as { refreshToken: string };
      expect((await refresh(pair.refreshToken)).status).toBe(200);
      expect((await refresh(pair.refreshToken)).status).toBe(401);
    }
  });
});
