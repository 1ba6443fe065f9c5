import { afterAll, beforeAll, expect, it } from 'vitest';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// A limit counts in fixed windows of the app's clock: once the clock passes the window's end, the
// allowance is whole again. (rate-limits.test.ts shows a limit holds across processes; this one
// moves the clock, which no real-time test can do.)

const WINDOW_MS = 10 * 60_000; // the sign-up allowance's window (newsletters.routes.ts)
// Two minutes into a window, so the whole test stays inside it until the clock is moved.
const clock = manualClock(
  new Date(Math.floor(Date.parse('2026-11-27T12:00:00Z') / WINDOW_MS) * WINDOW_MS + 120_000),
);
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock }, config: testConfig({ NEWSLETTER_SIGNUPS_PER_IP: '3' }) });
});
afterAll(() => app.close());

let n = 0;
const signUp = () =>
  fetch(`${app.url}/newsletters/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.7.7.7' },
    body: JSON.stringify({
      email: `window${++n}@example.com`,
      lists: ['editors-picks'],
      consentTextVersion: '2026-11',
    }),
  });

it('when an IP used up its sign-ups, then it is refused until the window ends (Retry-After says when), and the next request after it is allowed', async () => {
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await signUp()).status);
  expect(statuses).toEqual([202, 202, 202]);

  const refused = await signUp();
  expect(refused.status).toBe(429);
  const retryAfter = Number(refused.headers.get('retry-after'));
  expect(retryAfter).toBe((WINDOW_MS - 120_000) / 1000); // eight minutes: until the window turns

  // A second before the window ends: still refused.
  clock.advance(retryAfter * 1000 - 1_000);
  expect((await signUp()).status).toBe(429);

  // Past the end: a new window, a whole allowance again.
  clock.advance(1_000);
  const again = [];
  for (let i = 0; i < 4; i++) again.push((await signUp()).status);
  expect(again).toEqual([202, 202, 202, 429]);
});

it('when one database used up an IP’s sign-ups, then an app on another database still gives that IP its whole allowance', async () => {
  // A process counts each database's slots on their own: what one database counted (a test file's
  // previous database, in a worker that runs many files) never refuses requests on another.
  const other = await startTestApp({
    deps: { clock },
    config: testConfig({ NEWSLETTER_SIGNUPS_PER_IP: '3' }),
  });
  try {
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${other.url}/newsletters/subscriptions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.7.7.7' },
        body: JSON.stringify({
          email: `other${i}@example.com`,
          lists: ['editors-picks'],
          consentTextVersion: '2026-11',
        }),
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([202, 202, 202, 429]);
  } finally {
    await other.close();
  }
});
