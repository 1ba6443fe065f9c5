import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/infra/embedded-db.js';
import { type ServerProcess, spawnServer } from '../support/server-process.js';
import { databaseUri } from '../support/test-app.js';

// The limits must hold however many processes serve the traffic: two real server processes on one
// database, one client IP alternating between them.

const servers: ServerProcess[] = [];
const urls: string[] = [];

beforeAll(async () => {
  const uri = databaseUri(`rate_limits_${Date.now()}`);
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const server = spawnServer({
      MONGODB_URI: uri,
      PORT: String(port),
      LOG_LEVEL: 'info',
      EMAIL_WORKER: 'off',
    });
    servers.push(server);
    urls.push(`http://127.0.0.1:${port}`);
  }
  await Promise.all(servers.map((s) => s.waitForLog('"listening"', 120_000)));
  // Both limits count in 15-minute windows: do not start right before one turns.
  const intoWindow = Date.now() % (15 * 60_000);
  if (intoWindow > 15 * 60_000 - 30_000)
    await new Promise((r) => setTimeout(r, 15 * 60_000 - intoWindow + 100));
}, 180_000);
afterAll(async () => {
  for (const server of servers) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});

async function burst(path: string, body: (i: number) => object, count: number) {
  const answers: { status: number; retryAfter: string | null; code?: string }[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${urls[i % 2]}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body(i)),
    });
    const json = (await res.json()) as { error?: { code: string } };
    answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), code: json.error?.code });
  }
  return answers;
}

describe('rate limits across processes', () => {
  it('when one IP asks for 44 member sign-in links through two processes, then exactly 20 are accepted and the rest get 429 with Retry-After', async () => {
    const answers = await burst('/account/sign-in', (i) => ({ email: `reader${i}@example.com` }), 44);
    expect(answers.filter((a) => a.status === 202)).toHaveLength(20);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(24);
    for (const a of refused) {
      expect(a.code).toBe('rate_limited');
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
      expect(Number(a.retryAfter)).toBeLessThanOrEqual(15 * 60);
    }
  }, 120_000);

  it('when one IP tries 34 staff passwords through two processes, then 30 are checked (401) and the rest get 429 with Retry-After', async () => {
    const answers = await burst(
      '/staff/sign-in',
      (i) => ({ email: 'admin@newsroom.example', password: `guess-${i}` }),
      34,
    );
    expect(answers.filter((a) => a.status === 401)).toHaveLength(30);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(4);
    for (const a of refused) expect(Number(a.retryAfter)).toBeGreaterThan(0);
  }, 120_000);
});
