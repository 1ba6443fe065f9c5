import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookModels } from '../../src/integrations/webhook.model.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';
import { STAFF_PASSWORD, staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// An endpoint's edits carry the version they were made from, as campaigns' do: a save from a
// version a colleague already changed is refused (409 edit_conflict) with the endpoint as it is
// now, in the console (the form again, both sides shown) and in the API, so no save overwrites another.

let app: TestApp;
let api: Record<string, string>;
const cookies: Record<string, string> = {};

const FORM = {
  'content-type': 'application/x-www-form-urlencoded',
  accept: 'text/html',
  'sec-fetch-site': 'same-origin',
};

async function signIn(name: 'alice' | 'bob') {
  const email = `${name}.conflict@newsroom.example`;
  await createStaffUser(app.deps.db, { email, name, role: 'admin', password: STAFF_PASSWORD });
  const res = await fetch(`${app.url}/console/sign-in`, {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ email, password: STAFF_PASSWORD }),
    redirect: 'manual',
  });
  cookies[name] = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ');
}

beforeAll(async () => {
  app = await startTestApp();
  api = { authorization: (await staffToken(app.url, app.deps.db, 'admin')).authorization };
  await signIn('alice');
  await signIn('bob');
});
afterAll(() => app?.close());

let n = 0;
async function createEndpoint() {
  const res = await fetch(`${app.url}/admin/webhooks/endpoints`, {
    method: 'POST',
    headers: { ...api, 'content-type': 'application/json' },
    body: JSON.stringify({
      url: `https://crm.example.org/hook-${++n}`,
      events: ['member.joined', 'gift.purchased'],
      description: 'Old CRM',
    }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { endpoint: { id: string; url: string; version: number } }).endpoint;
}
const patch = (id: string, body: unknown) =>
  fetch(`${app.url}/admin/webhooks/endpoints/${id}`, {
    method: 'PATCH',
    headers: { ...api, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
type Answer = { status: number; body: Record<string, unknown> };
const answer = async (res: Response): Promise<Answer> => ({
  status: res.status,
  body: (await res.json()) as Record<string, unknown>,
});
const stored = async (id: string) => {
  const e = await webhookModels(app.deps.db).Endpoint.findById(id).lean();
  return { url: e!.url, events: e!.events, description: e!.description ?? '', version: e!.version };
};

/** An attribute as a browser reads it (Handlebars escapes `"`, `=`, `&`, `'`). */
const attribute = (text: string) =>
  text
    .replaceAll('&quot;', '"')
    .replaceAll('&#x3D;', '=')
    .replaceAll('&#x27;', "'")
    .replaceAll('&#x60;', '`')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
/** The edit form's fields as a browser would post them unchanged. */
function editForm(html: string): [string, string][] {
  const form =
    /<form method="post" action="\/console\/webhooks\/ep_[0-9a-f]+\/edit"[^>]*>([\s\S]*?)<\/form>/.exec(
      html,
    )![1]!;
  const value = (name: string) =>
    attribute(new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(form)?.[1] ?? '');
  const events = [...form.matchAll(/name="events" value="([^"]+)" checked/g)].map((m) => m[1]!);
  return [
    ['version', value('version')],
    ['loaded', value('loaded')],
    ['url', value('url')],
    ...events.map((e): [string, string] => ['events', e]),
    ['description', value('description')],
  ];
}
const openForm = async (id: string, who: 'alice' | 'bob') => {
  const res = await fetch(`${app.url}/console/webhooks/${id}`, {
    headers: { accept: 'text/html', cookie: cookies[who]! },
  });
  expect(res.status).toBe(200);
  return editForm(await res.text());
};
const with_ = (form: [string, string][], name: string, value: string) =>
  form.map(([k, v]): [string, string] => [k, k === name ? value : v]);
const save = (id: string, who: 'alice' | 'bob', form: [string, string][]) =>
  fetch(`${app.url}/console/webhooks/${id}/edit`, {
    method: 'POST',
    headers: { ...FORM, cookie: cookies[who]! },
    body: new URLSearchParams(form),
    redirect: 'manual',
  });

describe('two admins editing one endpoint in the console', () => {
  it('when Bob saves a new URL and Alice, who opened the form before, saves only a description, then hers is refused with his values shown and nothing of hers stored', async () => {
    const endpoint = await createEndpoint();
    const aliceForm = await openForm(endpoint.id, 'alice');
    const bobForm = await openForm(endpoint.id, 'bob');
    expect(aliceForm).toContainEqual(['version', String(endpoint.version)]);

    const bob = await save(endpoint.id, 'bob', with_(bobForm, 'url', 'https://crm.example.org/new-bob'));
    expect(bob.status).toBe(303);

    const alice = await save(endpoint.id, 'alice', with_(aliceForm, 'description', 'CRM, sales team'));
    expect(alice.status).toBe(409);
    expect(await stored(endpoint.id)).toEqual({
      url: 'https://crm.example.org/new-bob',
      events: ['member.joined', 'gift.purchased'],
      description: 'Old CRM',
      version: endpoint.version + 1,
    });
    const page = await alice.text();
    expect(page).toContain('A colleague saved this endpoint after you opened it');
    // The page shows Bob's URL; the form holds it, and Alice's description, each marked.
    expect(page).toContain('<h1 class="break-anywhere">https://crm.example.org/new-bob</h1>');
    const merged = editForm(page);
    expect(merged).toContainEqual(['url', 'https://crm.example.org/new-bob']);
    expect(merged).toContainEqual(['description', 'CRM, sales team']);
    expect(merged).toContainEqual(['version', String(endpoint.version + 1)]);
    expect(page).toContain(
      `id="url-note">Changed by a colleague to “https://crm.example.org/new-bob” (it was “${endpoint.url}”).<`,
    );
    expect(page).toContain('id="description-note">Your change, not saved yet (it is “Old CRM” now).<');

    // Saved again from the form as the conflict left it: both changes are kept.
    const again = await save(endpoint.id, 'alice', merged);
    expect(again.status).toBe(303);
    expect(await stored(endpoint.id)).toMatchObject({
      url: 'https://crm.example.org/new-bob',
      description: 'CRM, sales team',
      version: endpoint.version + 2,
    });
  });

  it('when both changed the same field, then the form holds the colleague’s value and shows what was typed', async () => {
    const endpoint = await createEndpoint();
    const aliceForm = await openForm(endpoint.id, 'alice');
    const bobForm = await openForm(endpoint.id, 'bob');
    expect((await save(endpoint.id, 'bob', with_(bobForm, 'description', 'Bob’s CRM'))).status).toBe(303);
    const alice = await save(endpoint.id, 'alice', with_(aliceForm, 'description', 'Alice’s CRM'));
    expect(alice.status).toBe(409);
    const page = await alice.text();
    expect(editForm(page)).toContainEqual(['description', 'Bob’s CRM']);
    expect(page).toContain(
      'id="description-note">Changed by a colleague to “Bob’s CRM”; you typed “Alice’s CRM”. Choose one and save.<',
    );
    expect((await stored(endpoint.id)).description).toBe('Bob’s CRM');
  });

  it('when the endpoint was disabled after the form was opened, then the form’s save is refused', async () => {
    const endpoint = await createEndpoint();
    const aliceForm = await openForm(endpoint.id, 'alice');
    const off = await fetch(`${app.url}/console/webhooks/${endpoint.id}/enabled`, {
      method: 'POST',
      headers: { ...FORM, cookie: cookies.bob! },
      body: new URLSearchParams({ enabled: 'false' }),
      redirect: 'manual',
    });
    expect(off.status).toBe(303);
    const alice = await save(endpoint.id, 'alice', with_(aliceForm, 'url', 'https://crm.example.org/alice'));
    expect(alice.status).toBe(409);
    expect((await stored(endpoint.id)).url).toBe(endpoint.url);
  });
});

describe('changing an endpoint through the API from the version read', () => {
  it('when two changes from the same version race, then one is saved and the other is refused with the endpoint as it is now', async () => {
    for (let round = 0; round < 5; round++) {
      const { id, version } = await createEndpoint();
      const [a, b] = await Promise.all([
        patch(id, { version, url: 'https://crm.example.org/raced' }).then(answer),
        patch(id, { version, description: 'Raced' }).then(answer),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const [won, lost] = a.status === 200 ? [a, b] : [b, a];
      expect(lost.body.error).toMatchObject({ code: 'edit_conflict', current: won.body.endpoint });
      const now = await stored(id);
      expect(now.version).toBe(version + 1);
      // The loser's change is not stored: either the URL or the description is as created.
      expect(now.url === 'https://crm.example.org/raced' && now.description === 'Raced').toBe(false);
    }
  });

  it('when a change is sent from a version changed since, then 409 and nothing of it is stored; without a version it applies to the current one', async () => {
    const { id, version } = await createEndpoint();
    const first = await answer(await patch(id, { version, url: 'https://crm.example.org/first' }));
    expect(first).toMatchObject({ status: 200, body: { endpoint: { version: version + 1 } } });
    const stale = await answer(await patch(id, { version, description: 'Stale' }));
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({
      code: 'edit_conflict',
      current: { url: 'https://crm.example.org/first', description: 'Old CRM', version: version + 1 },
    });
    expect((await stored(id)).description).toBe('Old CRM');
    // An existing client that sends no version still changes the endpoint.
    const unversioned = await answer(await patch(id, { description: 'No version' }));
    expect(unversioned).toMatchObject({
      status: 200,
      body: {
        endpoint: { url: 'https://crm.example.org/first', description: 'No version', version: version + 2 },
      },
    });
    // A version alone changes nothing and is refused as such.
    expect((await patch(id, { version: version + 2 })).status).toBe(422);
  });
});
