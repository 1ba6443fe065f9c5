import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { MAX_WINDOW_DAYS } from '../../src/campaigns/campaign-admin.js';
import { campaignFromForm } from '../../src/console/campaign-form.js';
import { perDayChart } from '../../src/console/overview-charts.js';
import type { AppError } from '../../src/http/errors.js';
import { driveOverview } from '../../src/reports/drive-overview.js';
import { deep } from '../support/depth.js';
import { staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A campaign's window is a drive's, not an archive's: it starts in 2000 or later and lasts at most
// ten years. A window of centuries made the console home build a bar per day until it failed (500
// for every role, the whole process stalled for seconds per view).

let app: TestApp;
let auth: Record<string, string>;
beforeAll(async () => {
  app = await startTestApp();
  auth = {
    authorization: (await staffToken(app.url, app.deps.db, 'editor')).authorization,
    'content-type': 'application/json',
  };
});
afterAll(() => app.close());

const drive = (slug: string, startsAt: string, endsAt: string) => ({
  slug,
  title: 'Drive',
  goal: 10,
  startsAt,
  endsAt,
});
const details = async (res: Response) =>
  ((await res.json()) as { error: { code: string; details: { path: string; message: string }[] } }).error;

describe('the API', () => {
  for (const [label, startsAt, endsAt, path, message] of [
    [
      'ends in 9999',
      '2026-12-01T00:00:00Z',
      '9999-12-31T00:00:00Z',
      'endsAt',
      'must be at most ten years after startsAt',
    ],
    [
      'starts in year 1',
      '0001-01-01T00:00:00Z',
      '0001-06-01T00:00:00Z',
      'startsAt',
      'must be in 2000 or later',
    ],
    [
      'ends before it starts',
      '2026-12-01T00:00:00Z',
      '2026-11-01T00:00:00Z',
      'endsAt',
      'must be after startsAt',
    ],
  ] as const) {
    it(`when a campaign ${label}, then creating it answers 422 naming ${path}, and nothing is stored`, async () => {
      const res = await fetch(`${app.url}/campaigns`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify(drive('bad-window', startsAt, endsAt)),
      });
      expect(res.status).toBe(422);
      const error = await details(res);
      expect(error.code).toBe('validation_failed');
      expect(error.details).toContainEqual({ path, message });
      expect(await campaignModels(app.deps.db).Campaign.countDocuments({ slug: 'bad-window' })).toBe(0);
    });
  }

  it('when a change would stretch the window past ten years, then 422 and the end stays', async () => {
    const created = drive('ten-years', '2026-12-01T00:00:00.000Z', '2027-12-01T00:00:00.000Z');
    expect(
      (await fetch(`${app.url}/campaigns`, { method: 'POST', headers: auth, body: JSON.stringify(created) }))
        .status,
    ).toBe(201);
    const res = await fetch(`${app.url}/campaigns/ten-years`, {
      method: 'PATCH',
      headers: auth,
      body: JSON.stringify({ endsAt: '2037-01-01T00:00:00Z' }),
    });
    expect(res.status).toBe(422);
    expect((await details(res)).details).toContainEqual({
      path: 'endsAt',
      message: 'must be at most ten years after startsAt',
    });
    const stored = await campaignModels(app.deps.db).Campaign.findOne({ slug: 'ten-years' }).lean();
    expect(stored?.endsAt.toISOString()).toBe(created.endsAt);
  });
});

describe('the console form', () => {
  const form = (startsAt: string) => ({ title: 'Drive', goal: '10', startsAt, endsAt: '2027-01-01T00:00' });
  const problemsOf = (startsAt: string) => {
    try {
      campaignFromForm(form(startsAt));
      return [];
    } catch (error) {
      return (error as AppError).details ?? [];
    }
  };

  for (const typed of [
    '2026-02-30T00:00',
    '2026-12-45T00:00',
    '0000-00-00T00:00',
    '2026-12-01T24:00',
    '2026-12-01T10:60',
  ]) {
    it(`when a date that does not exist (${typed}) is typed, then the form names the field instead of moving the date`, () => {
      expect(problemsOf(typed)).toEqual([
        { path: 'startsAt', message: 'Enter a date and time that exist, like 2026-12-01T09:00.' },
      ]);
    });
  }

  it('when any real date and time is typed, then it is read as that wall time in the campaign’s zone', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('2000-01-01T00:00:00Z'),
          max: new Date('2199-12-31T23:59:00Z'),
          noInvalidDate: true,
        }),
        (at) => {
          const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000);
          const typed = minute.toISOString().slice(0, 16);
          expect(campaignFromForm({ ...form(typed), timeZone: 'UTC' }).startsAt).toBe(minute.toISOString());
        },
      ),
      { seed: 20261206, numRuns: deep(300) },
    );
  });
});

describe('a campaign saved before windows were limited', () => {
  it('when it runs until 9999, then the console overview charts its first ten years and answers at once', async () => {
    const legacy = await campaignModels(app.deps.db).Campaign.create({
      slug: 'legacy-forever',
      title: 'Forever',
      goal: 10,
      startsAt: new Date('2026-12-01T00:00:00Z'),
      endsAt: new Date('9999-12-31T00:00:00Z'),
      timeZone: 'UTC',
    });
    const started = Date.now();
    const overview = await driveOverview(app.deps.db, legacy.toObject(), new Date('2026-12-06T00:00:00Z'));
    expect(overview.days.length).toBeLessThanOrEqual(MAX_WINDOW_DAYS + 1);
    expect(perDayChart('New members per day', overview.days, (day) => day)).toContain('<svg');
    expect(Date.now() - started).toBeLessThan(2_000);

    // It can still be renamed; only a change to its window meets the limits.
    const renamed = await fetch(`${app.url}/campaigns/legacy-forever`, {
      method: 'PATCH',
      headers: auth,
      body: JSON.stringify({ title: 'Always on' }),
    });
    expect(renamed.status).toBe(200);
  });
});
