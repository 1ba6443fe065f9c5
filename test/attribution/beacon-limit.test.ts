import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffToken } from '../support/staff.js';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The view beacon is public: one address may send ATTRIBUTION_BEACONS_PER_IP a minute (5 here) (the one rate
// limiter, across processes); beyond that it is told 429 `beacon_rate_limited` with Retry-After,
// and nothing it sent is counted. Other addresses, and the next minute, are counted as before.

const PER_MINUTE = 5;
const clock = manualClock(new Date('2026-11-27T12:00:10Z'));
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({
    deps: { clock },
    config: testConfig({ TIME_ZONE: 'UTC', ATTRIBUTION_BEACONS_PER_IP: String(PER_MINUTE) }),
  });
});
afterAll(() => app?.close());

const beacon = (ip: string) =>
  fetch(`${app.url}/attribution/events?event=view&campaign=winter&placement=widget`, {
    method: 'POST',
    headers: { 'x-forwarded-for': ip },
  });

async function views(): Promise<number> {
  const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
  const res = await fetch(`${app.url}/reports/funnel?campaign=winter&from=2026-11-27&to=2026-11-27`, {
    headers: { authorization },
  });
  return ((await res.json()) as { total: { view: number } }).total.view;
}

describe('the view beacon rate limit', () => {
  it('when one address sends more beacons in a minute than allowed, then the rest get a 429 with Retry-After and are not counted; another address and the next minute are', async () => {
    const answers = [];
    for (let i = 0; i < PER_MINUTE; i++) answers.push((await beacon('198.51.100.7')).status);
    expect(answers.every((s) => s === 204)).toBe(true);

    const refused = await beacon('198.51.100.7');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('50');
    expect(await refused.json()).toMatchObject({
      error: {
        code: 'beacon_rate_limited',
        message:
          'Too many views and clicks from this address in a minute: these are not counted. Try again after Retry-After seconds.',
      },
    });
    expect((await beacon('198.51.100.7')).status).toBe(429);
    expect((await beacon('203.0.113.20')).status).toBe(204);
    expect(await views()).toBe(PER_MINUTE + 1);

    clock.advance(60_000);
    expect((await beacon('198.51.100.7')).status).toBe(204);
    expect(await views()).toBe(PER_MINUTE + 2);
  });
});
