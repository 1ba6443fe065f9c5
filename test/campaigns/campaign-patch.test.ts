import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// PATCH /campaigns/:slug changes the fields it names and nothing else, whichever field it is.

let app: TestApp;
let auth: Record<string, string>;

beforeAll(async () => {
  app = await startTestApp();
  auth = { authorization: (await staffToken(app.url, app.deps.db, 'editor')).authorization };
});
afterAll(() => app.close());

/** A running drive whose every field differs from the create defaults. */
const ORIGINAL = {
  title: 'Birthday drive',
  description: 'Help us reach 1,000 new members by our birthday.',
  goal: 1000,
  startsAt: '2026-11-01T00:00:00.000Z',
  endsAt: '2026-12-01T00:00:00.000Z',
  timeZone: 'Europe/Kyiv',
  startingOffset: 137,
  counts: { gifts: false, oneTime: true },
  milestones: [10, 90],
};

/** One change per field (and per counts flag), each to a value unlike the original and the default. */
const CHANGES: Record<string, Record<string, unknown>> = {
  title: { title: 'Renamed drive' },
  description: { description: 'A new description.' },
  goal: { goal: 1200 },
  startsAt: { startsAt: '2026-10-15T00:00:00.000Z' },
  endsAt: { endsAt: '2026-12-24T00:00:00.000Z' },
  timeZone: { timeZone: 'America/Toronto' },
  startingOffset: { startingOffset: 200 },
  'counts.gifts': { counts: { gifts: true } },
  'counts.oneTime': { counts: { oneTime: false } },
  milestones: { milestones: [50] },
};

let n = 0;
async function createCampaign() {
  const slug = `drive-${++n}`;
  const res = await fetch(`${app.url}/campaigns`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ slug, ...ORIGINAL }),
  });
  expect(res.status).toBe(201);
  return slug;
}
async function stored(slug: string) {
  const res = await fetch(`${app.url}/campaigns`, { headers: auth });
  const { campaigns } = (await res.json()) as { campaigns: Array<Record<string, unknown>> };
  // The version moves with every change (test/campaigns/campaign-edit-conflict.test.ts).
  const { count: _count, version: _version, ...campaign } = campaigns.find((c) => c.slug === slug)!;
  return campaign;
}
const merge = (base: typeof ORIGINAL, change: Record<string, unknown>) => ({
  ...base,
  ...change,
  counts: { ...base.counts, ...(change.counts as object | undefined) },
});

describe('changing a campaign', () => {
  it('covers every field the API can change', async () => {
    const slug = await createCampaign();
    const { slug: _slug, ...fields } = await stored(slug);
    const named = Object.keys(CHANGES).map((k) => k.split('.')[0]);
    expect(new Set(named)).toEqual(new Set(Object.keys(fields)));
  });

  for (const [field, change] of Object.entries(CHANGES)) {
    it(`when only ${field} is sent, then only ${field} changes, in the answer and in what is stored`, async () => {
      const slug = await createCampaign();
      const res = await fetch(`${app.url}/campaigns/${slug}`, {
        method: 'PATCH',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(change),
      });
      expect(res.status).toBe(200);
      const expected = { slug, ...merge(ORIGINAL, change) };
      const { version: _version, ...answer } = (await res.json()) as Record<string, unknown>;
      expect(answer).toEqual(expected);
      expect(await stored(slug)).toEqual(expected);
    });
  }

  it('when nothing is sent, then nothing changes', async () => {
    const slug = await createCampaign();
    const res = await fetch(`${app.url}/campaigns/${slug}`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
    expect(await stored(slug)).toEqual({ slug, ...ORIGINAL });
  });

  it('when a change would end the campaign before it starts, then 422 and nothing changes', async () => {
    const slug = await createCampaign();
    const res = await fetch(`${app.url}/campaigns/${slug}`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ endsAt: '2026-10-01T00:00:00.000Z' }),
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
    expect(await stored(slug)).toEqual({ slug, ...ORIGINAL });
  });
});
