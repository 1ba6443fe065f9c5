import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';
import { STAFF_PASSWORD } from '../support/staff.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';

// The console's session: the staff tokens in cookies, renewed once, and forms only from our pages.

const clock = manualClock();
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
  await createStaffUser(app.deps.db, {
    email: 'editor@newsroom.example',
    name: 'Editor',
    role: 'editor',
    password: STAFF_PASSWORD,
  });
});
afterAll(() => app?.close());

const FORM = { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' };
const cookiesOf = (res: Response) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .filter((c) => !c.endsWith('='))
    .join('; ');

async function signIn(): Promise<string> {
  const res = await fetch(`${app.url}/console/sign-in`, {
    method: 'POST',
    headers: { ...FORM, 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ email: 'editor@newsroom.example', password: STAFF_PASSWORD }).toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/console');
  const setCookies = res.headers.getSetCookie();
  expect(
    setCookies.every((c) => /HttpOnly/i.test(c) && /SameSite=Strict/i.test(c) && /Path=\/console/.test(c)),
  ).toBe(true);
  return cookiesOf(res);
}

describe('the console session', () => {
  it('when the access token has expired, then the refresh token renews it once; a copy of the old one signs no one in', async () => {
    const cookies = await signIn();
    clock.advance(11 * 60_000); // past the 10-minute access token
    const renewed = await fetch(`${app.url}/console/campaigns`, {
      headers: { cookie: cookies, accept: 'text/html' },
    });
    expect(renewed.status).toBe(200);
    const fresh = cookiesOf(renewed);
    expect(fresh).toMatch(/md_staff=.+; md_staff_refresh=.+/);
    // The old refresh token was spent: replaying the old cookies shows the sign-in form.
    const replayed = await fetch(`${app.url}/console/campaigns`, {
      headers: { cookie: cookies, accept: 'text/html' },
    });
    expect(replayed.status).toBe(401);
    expect(await replayed.text()).toContain('Sign in to the console');
    expect((await fetch(`${app.url}/console/campaigns`, { headers: { cookie: fresh } })).status).toBe(200);
  });

  it('when another site posts a console form in a signed-in browser, then it is refused and nothing changes', async () => {
    const cookies = await signIn();
    const body = new URLSearchParams({
      title: 'Planted',
      slug: 'planted',
      goal: '10',
      startsAt: '2026-11-27T00:00',
      endsAt: '2026-12-27T00:00',
      timeZone: 'UTC',
    }).toString();
    const post = (site: string) =>
      fetch(`${app.url}/console/campaigns`, {
        method: 'POST',
        headers: { ...FORM, cookie: cookies, 'sec-fetch-site': site },
        body,
        redirect: 'manual',
      });
    expect((await post('cross-site')).status).toBe(403);
    expect(await campaignModels(app.deps.db).Campaign.countDocuments({ slug: 'planted' })).toBe(0);
    expect((await post('same-origin')).status).toBe(303);
    expect(await campaignModels(app.deps.db).Campaign.countDocuments({ slug: 'planted' })).toBe(1);
  });
});
