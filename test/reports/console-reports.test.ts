import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportPullModel } from '../../src/staff/audit.model.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';
import { seedFinance } from '../support/finance-seed.js';
import { STAFF_PASSWORD } from '../support/staff.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The finance reports inside the console, as plain HTTP (no JavaScript) sees them: the campaign
// picked with a GET form, human labels, dates and numbers in the newsroom's zone and the reader's
// language, and CSV downloads under the console's session.

let app: TestApp;
const cookies: Record<string, string> = {};

const FORM = {
  'content-type': 'application/x-www-form-urlencoded',
  accept: 'text/html',
  'sec-fetch-site': 'same-origin',
};

async function signIn(role: 'finance' | 'editor'): Promise<string> {
  const email = `${role}@newsroom.example`;
  await createStaffUser(app.deps.db, { email, name: role, role, password: STAFF_PASSWORD });
  const res = await fetch(`${app.url}/console/sign-in`, {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ email, password: STAFF_PASSWORD }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ');
}

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ TIME_ZONE: 'Europe/Kyiv' }) });
  await seedFinance(app);
  cookies.finance = await signIn('finance');
  cookies.editor = await signIn('editor');
});
afterAll(() => app?.close());

const open = (path: string, role: 'finance' | 'editor' | 'nobody' = 'finance', headers = {}) =>
  fetch(`${app.url}${path}`, {
    headers: { accept: 'text/html', ...(role === 'nobody' ? {} : { cookie: cookies[role]! }), ...headers },
    redirect: 'manual',
  });
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
const options = (html: string) =>
  [...html.matchAll(/<option value="([^"]+)"( selected)?>([^<]*)<\/option>/g)].map((m) => ({
    value: m[1],
    selected: Boolean(m[2]),
    label: m[3],
  }));

describe('the finance reports in the console', () => {
  it('when finance opens the reports, then the running drive is shown and picked, not the newest campaign', async () => {
    const res = await open('/console/reports');
    expect(res.status).toBe(200);
    const html = await res.text();
    // Every campaign in the selector, newest first, with its state and window on the newsroom's
    // clocks (the winter drive starts at midnight in Kyiv, 31 October in UTC).
    expect(options(html)).toEqual([
      {
        value: 'summer-2027',
        selected: false,
        label: 'Summer drive 2027 (upcoming, 1 Jun 2027 – 1 Jul 2027)',
      },
      { value: 'winter-2026', selected: true, label: 'Winter drive (running, 1 Nov 2026 – 1 Jan 2027)' },
      { value: 'spring-2026', selected: false, label: 'Spring drive (ended, 1 Mar 2026 – 1 Apr 2026)' },
    ]);
    expect(html).toContain('<form method="get" action="/console/reports"');
    expect(html).toMatch(/<section aria-labelledby="drive-heading" data-drive="winter-2026">/);
    expect(text(html)).toContain('603 of 1,000 new members');
    expect(html).toContain('<svg class="chart"');
    // The navigation and branding of the console, with the reports as the current page.
    expect(html).toContain('<a href="/console/reports" aria-current="page">Finance reports</a>');
    expect(text(html)).toContain('The Newsroom · membership console');
  });

  it('when finance picks another campaign with the GET form, then that drive is shown and selected', async () => {
    const html = await (
      await open('/console/reports?campaign=spring-2026&from=2026-11-01&to=2026-11-27')
    ).text();
    expect(options(html).find((o) => o.selected)?.value).toBe('spring-2026');
    expect(html).toMatch(/data-drive="spring-2026"/);
    expect(text(html)).toContain('150 of 200 new members');
    expect(text(html)).toContain('Members from 1 Nov 2026 to 27 Nov 2026');
    // The download links follow the pick.
    expect(html).toContain('href="/console/reports/supporters.csv?campaign&#x3D;spring-2026"');

    const unknown = await open('/console/reports?campaign=no-such-drive');
    expect(unknown.status).toBe(404);
    expect(text(await unknown.text())).toContain('There is no campaign with this name.');
  });

  it('when finance reads the figures, then they carry human labels and formatted money and months, never raw keys', async () => {
    const html = await (await open('/console/reports?from=2026-11-01&to=2026-11-27')).text();
    const page = text(html);
    expect(page).toContain('Recipients who went on to pay');
    expect(page).toContain('Delivered to the recipient');
    expect(html).not.toMatch(/>\s*(convertedToPaid|purchased|redeemed)\s*</);
    // November's revenue as a row a person reads.
    expect(page).toContain('November 2026 EUR €20.00 -€5.00 €0.00 €15.00');
    expect(page).toContain('3 joined');
    expect(page).toContain('€15.00 monthly recurring revenue');
  });

  it('when a period cannot be read, then the page says so and shows the last 30 days', async () => {
    const res = await open('/console/reports?from=2026-11-30&to=2026-11-01');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('role="alert" class="form-error" id="period-error"');
    expect(html).toContain('value="2026-10-29"');
  });

  it('when the reader asks in Ukrainian, then the console answers in Ukrainian and remembers the choice', async () => {
    const byHeader = await (await open('/console/reports', 'finance', { 'accept-language': 'uk' })).text();
    expect(byHeader).toContain('<html lang="uk">');
    const page = text(byHeader);
    expect(page).toContain('Фінансові звіти');
    expect(page).toContain('Огляд кампанії');
    expect(page).toContain('603 з 1 000 нових членів');
    expect(page).toContain('листопад 2026');
    expect(page).toContain('Вийти');

    // The language link sets it for the next pages too, whatever the browser asks for.
    const link = await open('/console/reports?lang=uk', 'finance', { 'accept-language': 'en' });
    const chosen = link.headers.getSetCookie().find((c) => c.startsWith('md_console_locale='));
    expect(chosen).toMatch(/^md_console_locale=uk;/);
    const next = await open('/console', 'finance', {
      'accept-language': 'en',
      cookie: `${cookies.finance}; md_console_locale=uk`,
    });
    expect(text(await next.text())).toContain('нових членів');

    // `locale` on a campaign's page is the previewed widget's language: the console stays English.
    const preview = await open('/console/campaigns/winter-2026?locale=uk', 'editor');
    expect(await preview.text()).toContain('<html lang="en">');
    expect(preview.headers.getSetCookie().some((c) => c.startsWith('md_console_locale='))).toBe(false);
  });

  it('when /dashboard is opened, then it redirects to the console reports', async () => {
    for (const path of ['/dashboard', '/dashboard/']) {
      const res = await open(path, 'nobody');
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toBe('/console/reports');
    }
  });

  it('when CSVs are downloaded with the console session, then finance gets them, audited; others do not', async () => {
    const campaign = await open('/console/reports/supporters.csv?campaign=winter-2026');
    expect(campaign.status).toBe(200);
    expect(campaign.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(campaign.headers.get('content-disposition')).toContain('supporters.csv');
    const lines = (await campaign.text()).trim().split('\n');
    expect(lines[0]).toMatch(/^email,name,status,/);
    expect(
      lines
        .slice(1)
        .map((l) => l.split(',')[0])
        .sort(),
    ).toEqual(['reader0@example.com', 'reader1@example.com']);

    const revenue = await open('/console/reports/revenue.csv?from=2026-11&to=2026-11');
    expect((await revenue.text()).split('\n')[1]).toBe('2026-11,eur,2000,-500,0,1500,2,3,,,,,0');

    const pulls = await reportPullModel(app.deps.db)
      .find({ format: 'csv' })
      .select({ report: 1, staffEmail: 1, _id: 0 })
      .lean();
    expect(pulls).toEqual(
      expect.arrayContaining([
        { report: 'supporters', staffEmail: 'finance@newsroom.example' },
        { report: 'revenue', staffEmail: 'finance@newsroom.example' },
      ]),
    );

    const signedOut = await open('/console/reports/supporters.csv', 'nobody');
    expect(signedOut.status).toBe(401);
    expect(await signedOut.text()).toContain('action="/console/sign-in"');
    const editor = await open('/console/reports/supporters.csv', 'editor');
    expect(editor.status).toBe(403);
    expect((await open('/console/reports', 'editor')).status).toBe(403);
  });
});
