import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffToken } from '../support/staff.js';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The funnel counts every widget view; a report must not read more the more views there were. A
// settled day (no step can still land on it) is rolled up into one document the first time it is
// read; from then on a report reads one document per day. The filters sent are recorded through
// mongoose's debug hook.

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
const filters: { collection: string; method: string; filter: unknown }[] = [];
let recording = false;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock }, config: testConfig({ TIME_ZONE: 'UTC' }) });
  app.deps.db.set('debug', (collection: string, method: string, filter: unknown) => {
    if (recording) filters.push({ collection, method, filter });
  });
});
afterAll(async () => {
  app.deps.db.set('debug', false);
  await app?.close();
});

const beacon = (query: string) => fetch(`${app.url}/attribution/events?${query}`, { method: 'POST' });

async function funnel(from: string, to: string) {
  const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
  filters.length = 0;
  recording = true;
  const res = await fetch(`${app.url}/reports/funnel?campaign=autumn&from=${from}&to=${to}`, {
    headers: { authorization },
  });
  recording = false;
  expect(res.status).toBe(200);
  return (await res.json()) as { days: unknown[]; total: Record<string, number> };
}
const read = (collection: string) => filters.filter((f) => f.collection === collection).length;

describe('the funnel rolled up by day', () => {
  it('when a day with many views has settled, then a month-long report reads one document per day and shows the same counts', async () => {
    for (let i = 0; i < 12; i++)
      expect((await beacon('event=view&campaign=autumn&placement=widget')).status).toBe(204);
    for (let i = 0; i < 3; i++)
      expect((await beacon('event=view&campaign=autumn&placement=button')).status).toBe(204);
    expect((await beacon('event=click&campaign=autumn&placement=widget')).status).toBe(204);
    const live = await funnel('2026-11-27', '2026-11-27');
    expect(live.days).toEqual([
      { day: '2026-11-27', placement: 'widget', view: 12, click: 1, started: 0, paid: 0 },
      { day: '2026-11-27', placement: 'button', view: 3, click: 0, started: 0, paid: 0 },
    ]);
    expect(read('funnel_days')).toBe(0); // not settled yet: read from its tallies
    expect(read('tally_marks')).toBeGreaterThan(0);

    clock.set(new Date('2026-12-03T09:00:00Z')); // six days on: the 27th has settled
    const first = await funnel('2026-11-01', '2026-11-28');
    expect(first.days).toEqual(live.days);
    const again = await funnel('2026-11-01', '2026-11-28');
    expect(again).toEqual(first);
    expect(read('tally_marks')).toBe(0);
    expect(read('funnel_placements')).toBe(0);
    expect(read('funnel_days')).toBe(28);
    const rolled = await app.deps.db
      .db!.collection('funnel_days')
      .findOne({ _id: 'autumn|2026-11-27' as never });
    expect(rolled?.rows).toHaveLength(2);
  });
});
