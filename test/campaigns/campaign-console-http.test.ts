import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';
import { STAFF_PASSWORD } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The console's campaign pages as plain HTTP sees them. Forms posted without JavaScript: one answer
// names every field that is wrong, whether the form could not read it (a goal in words) or the
// rules refuse it (a slug). The list: dates on the campaign's clocks and numbers written for people.

let app: TestApp;
let cookies: string;

const FORM = {
  'content-type': 'application/x-www-form-urlencoded',
  accept: 'text/html',
  'sec-fetch-site': 'same-origin',
};

beforeAll(async () => {
  app = await startTestApp();
  await createStaffUser(app.deps.db, {
    email: 'editor@newsroom.example',
    name: 'Editor',
    role: 'editor',
    password: STAFF_PASSWORD,
  });
  const res = await fetch(`${app.url}/console/sign-in`, {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ email: 'editor@newsroom.example', password: STAFF_PASSWORD }),
    redirect: 'manual',
  });
  cookies = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ');
});
afterAll(() => app?.close());

const post = (path: string, fields: Record<string, string>) =>
  fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { ...FORM, cookie: cookies },
    body: new URLSearchParams(fields),
    redirect: 'manual',
  });
/** Each field's message, by the id the form gives it. */
const fieldErrors = (html: string) =>
  Object.fromEntries(
    [...html.matchAll(/<p class="error field-error" id="([a-zA-Z]+)-error">([^<]*)<\/p>/g)].map((m) => [
      m[1],
      m[2],
    ]),
  );

describe('the campaign forms without JavaScript', () => {
  it('when a new campaign has a goal in words, a bad slug, no title and an unreadable end, then one answer names all four', async () => {
    const res = await post('/console/campaigns', {
      title: '',
      slug: 'Winter Drive!',
      goal: 'a thousand',
      startsAt: '2026-12-01T09:00',
      endsAt: 'soon',
      timeZone: 'UTC',
      milestones: '25, 50',
    });
    expect(res.status).toBe(422);
    const errors = fieldErrors(await res.text());
    expect(Object.keys(errors).sort()).toEqual(['endsAt', 'goal', 'slug', 'title']);
    expect(errors.goal).toBe('Enter a whole number, like 1000.');
    expect(await campaignModels(app.deps.db).Campaign.countDocuments()).toBe(0);
  });

  it('when the console is in Ukrainian, then the form names the problems in Ukrainian', async () => {
    const res = await post('/console/campaigns?lang=uk', {
      title: 'Зимова кампанія',
      slug: 'winter-uk',
      goal: 'тисяча',
      startsAt: '2026-12-01T09:00',
      endsAt: 'скоро',
      timeZone: 'UTC',
      milestones: 'половина',
    });
    expect(res.status).toBe(422);
    expect(fieldErrors(await res.text())).toMatchObject({
      goal: 'Введіть ціле число, наприклад 1000.',
      endsAt: 'Введіть дату й час.',
      milestones: 'Введіть відсотки через кому, наприклад 25, 50, 100.',
    });
  });

  it('when a campaign is changed to a goal in words and an empty title, then the form names both', async () => {
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'spring',
      title: 'Spring drive',
      goal: 500,
      startsAt: new Date('2026-11-01T00:00:00Z'),
      endsAt: new Date('2026-12-01T00:00:00Z'),
      timeZone: 'UTC',
    });
    const res = await post('/console/campaigns/spring', {
      version: '0',
      title: '',
      goal: 'many',
      startsAt: '2026-11-01T00:00',
      endsAt: '2026-12-01T00:00',
      timeZone: 'UTC',
      milestones: '25, 50, 75, 100',
      countsGifts: 'on',
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('<h1>Spring drive</h1>');
    expect(Object.keys(fieldErrors(html)).sort()).toEqual(['goal', 'title']);
  });
});

describe('the campaign list', () => {
  it('when a campaign of 1000 members runs in Kyiv, then the list shows "1,000" and its window on Kyiv clocks', async () => {
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'kyiv-drive',
      title: 'Kyiv drive',
      goal: 1000,
      startingOffset: 1234,
      startsAt: new Date('2026-11-16T00:45:56.010Z'),
      endsAt: new Date('2026-12-16T00:45:00Z'),
      timeZone: 'Europe/Kyiv',
    });
    const res = await fetch(`${app.url}/console/campaigns`, {
      headers: { accept: 'text/html', cookie: cookies },
    });
    expect(res.status).toBe(200);
    const row = (await res.text()).match(/<tr data-campaign="kyiv-drive">.*?<\/tr>/s)?.[0] ?? '';
    const cells = [...row.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((m) =>
      m[1]!.replace(/<[^>]+>/g, '').replace(/\s+/g, ' '),
    );
    expect(cells.slice(2)).toEqual([
      '1,234',
      '1,000',
      '16 Nov 2026, 02:45 – 16 Dec 2026, 02:45 (Europe/Kyiv)',
    ]);
    expect(row).not.toContain('2026-11-16T');
  });
});
