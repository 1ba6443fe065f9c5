import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobQueue } from '../../src/infra/jobs/queue.js';
import { createWebhookQueue } from '../../src/integrations/delivery.worker.js';
import { webhookModels } from '../../src/integrations/webhook.model.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';
import { STAFF_PASSWORD } from '../support/staff.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { type Receiver, startReceiver } from './support.js';

// The console's webhook pages as plain HTTP sees them (forms without JavaScript), for an admin:
// add an endpoint and see its secret once, the list and the endpoint's page without it, rotate
// (the new secret once), the delivery log with each attempt, redeliver, disable, delete, edit the
// URL, events and description. An editor is shown who may use the pages instead.

let app: TestApp;
/** The same database behind a process that reaches only public addresses, as production does. */
let strict: TestApp;
let receiver: Receiver;
let queue: JobQueue;
const cookies: Record<string, string> = {};

const FORM = {
  'content-type': 'application/x-www-form-urlencoded',
  accept: 'text/html',
  'sec-fetch-site': 'same-origin',
};

async function signIn(role: 'admin' | 'editor') {
  const email = `${role}.hooks@newsroom.example`;
  await createStaffUser(app.deps.db, { email, name: role, role, password: STAFF_PASSWORD });
  const res = await fetch(`${app.url}/console/sign-in`, {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ email, password: STAFF_PASSWORD }),
    redirect: 'manual',
  });
  cookies[role] = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ');
}

beforeAll(async () => {
  app = await startTestApp();
  receiver = await startReceiver();
  queue = createWebhookQueue({
    db: app.deps.db,
    clock: app.deps.clock,
    logger: app.deps.logger,
    allowPrivateTargets: true,
    leaseMs: 60_000,
    timeoutMs: 2_000,
  });
  await signIn('admin');
  await signIn('editor');
  strict = await startTestApp({
    db: app.deps.db,
    config: testConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' }),
  });
  expect(strict.deps.config.webhooks.allowPrivateTargets).toBe(false);
});
afterAll(async () => {
  await strict?.close();
  await receiver.close();
  await app?.close();
});

const get = (path: string, role: 'admin' | 'editor' = 'admin') =>
  fetch(`${app.url}${path}`, {
    headers: { accept: 'text/html', cookie: cookies[role]! },
    redirect: 'manual',
  });
const post = (
  path: string,
  fields: [string, string][] = [],
  role: 'admin' | 'editor' = 'admin',
  on: TestApp = app,
) =>
  fetch(`${on.url}${path}`, {
    method: 'POST',
    headers: { ...FORM, cookie: cookies[role]! },
    body: new URLSearchParams(fields),
    redirect: 'manual',
  });
/** The secret in the page's field, as a browser reads it (Handlebars writes `=` as `&#x3D;`). */
const secretIn = (html: string) => /value="(whsec_[^"]+)"/.exec(html)?.[1]?.replaceAll('&#x3D;', '=');
const stored = async (id: string) => {
  const e = await webhookModels(app.deps.db).Endpoint.findById(id).lean();
  return { url: e!.url, events: e!.events, description: e!.description ?? '' };
};
const idIn = (html: string) => /href="\/console\/webhooks\/(ep_[0-9a-f]{24})"/.exec(html)![1]!;
const joined = (n: number) => ({
  memberId: `64c0000000000000000000${String(n).padStart(2, '0')}`,
  email: `console-reader${n}@example.org`,
  joinedAt: app.deps.clock.now(),
  source: 'checkout' as const,
  paid: true,
});

describe('the webhook and sources pages in Ukrainian', () => {
  const inUkrainian = (path: string, init: RequestInit = {}) =>
    fetch(`${app.url}${path}`, {
      ...init,
      headers: { ...FORM, cookie: `${cookies.admin}; md_console_locale=uk`, ...init.headers },
      redirect: 'manual',
    });
  const heading = (html: string) => /<h1[^>]*>([^<]*)<\/h1>/.exec(html)?.[1];

  it('when an admin picks Ukrainian, then the webhook and sources pages, their form errors and error pages are in Ukrainian', async () => {
    const list = await get('/console/webhooks?lang=uk');
    expect(list.headers.getSetCookie().find((c) => c.startsWith('md_console_locale='))).toMatch(/=uk;/);
    const listHtml = await list.text();
    expect(listHtml).toContain('<html lang="uk">');
    expect(heading(listHtml)).toBe('Вебхуки');
    expect(listHtml).toContain('Додати адресу');

    // The cookie the link set carries the language on to the next pages.
    const sources = await (await inUkrainian('/console/sources')).text();
    expect(heading(sources)).toBe('Звідки приходять члени');
    expect(sources).toContain('<h2 id="funnel-heading">Воронка</h2>');
    expect(sources).toMatch(/<h2[^>]*>За статтями<\/h2>/);
    expect(heading(await (await inUkrainian('/console/webhooks/new')).text())).toBe('Нова адреса');

    const noEvents = await inUkrainian('/console/webhooks', {
      method: 'POST',
      body: new URLSearchParams({ url: receiver.url, kind: 'standard' }),
    });
    expect(noEvents.status).toBe(422);
    const formHtml = await noEvents.text();
    expect(formHtml).toContain('Будь ласка, виправте позначені нижче поля.');
    expect(formHtml).toContain('id="events-error">оберіть щонайменше одну</p>');

    // An error from the error catalogue, shown on the section's page, in the console's language.
    const missing = await inUkrainian('/console/webhooks/ep_000000000000000000000000');
    expect(missing.status).toBe(404);
    const missingHtml = await missing.text();
    expect(heading(missingHtml)).toBe('Щось пішло не так');
    expect(missingHtml).toContain('<p role="alert">Вебхука з таким id немає.</p>');
  });
});

describe('webhook endpoints in the console', () => {
  it('when an admin adds an endpoint, then its secret is shown once and verifies deliveries; the list and the endpoint page never show it; rotating shows the new one once', async () => {
    const form = await get('/console/webhooks/new');
    expect(form.status).toBe(200);
    const formHtml = await form.text();
    expect(formHtml).toContain('name="events" value="member.renewed"');
    expect(formHtml).toContain('name="slackEvents" value="campaign.daily_total"');

    const created = await post('/console/webhooks', [
      ['url', receiver.url],
      ['kind', 'standard'],
      ['events', 'member.joined'],
      ['events', 'member.canceled'],
      ['description', 'CRM'],
    ]);
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const createdHtml = await created.text();
    const secret = secretIn(createdHtml)!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(createdHtml).toContain('it is not shown again');
    const id = /href="\/console\/webhooks\/(ep_[0-9a-f]{24})"/.exec(createdHtml)![1]!;

    const listHtml = await (await get('/console/webhooks')).text();
    expect(listHtml).toContain(`data-endpoint="${id}"`);
    expect(listHtml).toContain('member.joined, member.canceled');
    expect(listHtml).not.toContain('whsec_');
    const pageHtml = await (await get(`/console/webhooks/${id}`)).text();
    expect(pageHtml).not.toContain('whsec_');
    expect(pageHtml).toContain('CRM');

    // The secret shown is the one that signs.
    receiver.secrets = [secret];
    await app.deps.events.publish('member.joined', joined(1));
    await queue.drain();
    expect(receiver.received.map((r) => r.verifiedWith)).toEqual([[secret]]);

    const rotated = await post(`/console/webhooks/${id}/rotate`, [['overlapHours', '24']]);
    expect(rotated.status).toBe(200);
    const rotatedHtml = await rotated.text();
    const next = secretIn(rotatedHtml)!;
    expect(next).toMatch(/^whsec_/);
    expect(next).not.toBe(secret);
    expect(rotatedHtml).toContain('The previous secret keeps signing until');
    const afterHtml = await (await get(`/console/webhooks/${id}`)).text();
    expect(afterHtml).not.toContain('whsec_');
    expect(afterHtml.match(/<li>made /g)).toHaveLength(2); // both sign during the overlap
    receiver.secrets = [secret, next];
    await app.deps.events.publish('member.joined', joined(2));
    await queue.drain();
    expect(receiver.received.at(-1)!.verifiedWith).toEqual([secret, next]);
  });

  it('when a delivery is in the log, then each attempt shows its status and time, and the redeliver button sends it again with the same webhook-id', async () => {
    const created = await post('/console/webhooks', [
      ['url', receiver.url],
      ['kind', 'standard'],
      ['events', 'member.canceled'],
    ]);
    const html = await created.text();
    const id = /href="\/console\/webhooks\/(ep_[0-9a-f]{24})"/.exec(html)![1]!;
    receiver.secrets = [secretIn(html)!];
    receiver.mode = 'fail';
    await app.deps.events.publish('member.canceled', {
      memberId: '64c0000000000000000000aa',
      endedAt: new Date(),
    });
    await queue.drain();
    receiver.mode = 'ok';

    const log = await (await get(`/console/webhooks/${id}`)).text();
    const delivery = /data-delivery="([0-9a-f]{24})"/.exec(log)![1]!;
    // The time in the console's language on the newsroom's clocks (27 Nov 2026, 12:00), not ISO.
    expect(log).toMatch(/#1 \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d: HTTP 503, \d+ ms/);
    expect(log).toContain('<td>pending</td>');

    const before = receiver.received.length;
    const again = await post(`/console/webhooks/deliveries/${delivery}/redeliver`);
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(`/console/webhooks/${id}?redelivered=1`);
    await queue.drain();
    const sent = receiver.received.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.webhookId).toBe(receiver.received[before - 1]!.webhookId);
    const logAfter = await (await get(`/console/webhooks/${id}?redelivered=1`)).text();
    expect(logAfter).toContain('Queued again, with the same webhook-id.');
    expect(logAfter).toMatch(/#1 [^<]*: HTTP 204, \d+ ms/);
    expect(logAfter).toContain('<td>delivered</td>');
  });

  it('when an admin disables, enables and deletes an endpoint, then the pages say so and a disabled endpoint hears nothing', async () => {
    const created = await post('/console/webhooks', [
      ['url', receiver.url],
      ['kind', 'standard'],
      ['events', 'gift.redeemed'],
    ]);
    const id = /href="\/console\/webhooks\/(ep_[0-9a-f]{24})"/.exec(await created.text())![1]!;
    const off = await post(`/console/webhooks/${id}/enabled`, [['enabled', 'false']]);
    expect(off.status).toBe(303);
    expect(await (await get(`/console/webhooks/${id}`)).text()).toMatch(/data-field="status">disabled/);
    const before = receiver.received.length;
    await app.deps.events.publish('gift.redeemed', {
      giftId: '64c00000000000000000ab01',
      memberId: '64c00000000000000000ab02',
      redeemedAt: new Date(),
    });
    await queue.drain();
    expect(receiver.received.length).toBe(before);
    await post(`/console/webhooks/${id}/enabled`, [['enabled', 'true']]);
    expect(await (await get(`/console/webhooks/${id}`)).text()).toMatch(/data-field="status">enabled/);

    const deleted = await post(`/console/webhooks/${id}/delete`);
    expect(deleted.headers.get('location')).toBe('/console/webhooks?deleted=1');
    const list = await (await get('/console/webhooks?deleted=1')).text();
    expect(list).toContain('Endpoint deleted.');
    expect(list).not.toContain(`data-endpoint="${id}"`);
    expect((await get(`/console/webhooks/${id}`)).status).toBe(404);
  });

  it('when the form has no events, then it answers 422 with the field marked and the typed URL kept; a Slack endpoint gets no secret', async () => {
    const bad = await post('/console/webhooks', [
      ['url', 'https://hooks.example.org/x'],
      ['kind', 'standard'],
    ]);
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toContain('id="events-error">choose at least one<');
    expect(html).toContain('value="https://hooks.example.org/x"');

    const slack = await post('/console/webhooks', [
      ['url', 'https://hooks.example.org/services/T1/B1/x'],
      ['kind', 'slack'],
      ['events', 'member.joined'], // a standard event, ignored for Slack
      ['slackEvents', 'campaign.milestone'],
    ]);
    expect(slack.status).toBe(201);
    const slackHtml = await slack.text();
    expect(slackHtml).not.toContain('whsec_');
    expect(slackHtml).toContain('It has no secret');
    const id = /href="\/console\/webhooks\/(ep_[0-9a-f]{24})"/.exec(slackHtml)![1]!;
    const page = await (await get(`/console/webhooks/${id}`)).text();
    expect(page).toContain('Slack incoming webhook');
    expect(page).not.toContain('/rotate');
  });

  it('when an editor opens the webhook pages, then they are told who may, and the navigation does not offer them', async () => {
    const res = await get('/console/webhooks', 'editor');
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('admin');
    const home = await (await get('/console', 'editor')).text();
    expect(home).not.toContain('href="/console/webhooks"');
    const admin = await (await get('/console')).text();
    expect(admin).toContain('href="/console/webhooks"');
  });

  it('when an admin edits the URL, events and description in the form, then they are stored and only the chosen events reach the new URL', async () => {
    const created = await post('/console/webhooks', [
      ['url', `${receiver.url}?old=1`],
      ['kind', 'standard'],
      ['events', 'gift.purchased'],
      ['description', 'Old CRM'],
    ]);
    const createdHtml = await created.text();
    const id = idIn(createdHtml);
    receiver.secrets = [secretIn(createdHtml)!];
    const form = await (await get(`/console/webhooks/${id}`)).text();
    expect(form).toContain(`action="/console/webhooks/${id}/edit"`);
    expect(form).toContain(`value="${receiver.url}?old&#x3D;1"`);
    expect(form).toMatch(/name="events" value="gift.purchased" checked/);

    const saved = await post(`/console/webhooks/${id}/edit`, [
      ['url', receiver.url],
      ['events', 'gift.redeemed'],
      ['events', 'newsletter.confirmed'],
      ['description', 'New CRM'],
    ]);
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe(`/console/webhooks/${id}?saved=1`);
    expect(await stored(id)).toEqual({
      url: receiver.url,
      events: ['gift.redeemed', 'newsletter.confirmed'],
      description: 'New CRM',
    });
    const page = await (await get(`/console/webhooks/${id}?saved=1`)).text();
    expect(page).toContain('Saved.');
    expect(page).toContain('gift.redeemed, newsletter.confirmed');
    expect(page).toContain('New CRM');

    const before = receiver.received.length;
    await app.deps.events.publish('gift.purchased', {
      giftId: '64c00000000000000000ed01',
      durationMonths: 12,
      amount: 6000,
      currency: 'eur',
      paidAt: new Date(),
    });
    await app.deps.events.publish('gift.redeemed', {
      giftId: '64c00000000000000000ed02',
      memberId: '64c00000000000000000ed03',
      redeemedAt: new Date(),
    });
    await queue.drain();
    const types = receiver.received.slice(before).map((r) => JSON.parse(r.body).type);
    expect(types).toEqual(['gift.redeemed']); // no longer gift.purchased; the path is the new URL's
    expect(receiver.strayHits).not.toContain('/hook?old=1');
  });

  it('when the edit form has a bad URL, no events, or a Slack endpoint a standard event, then it answers 422 with the message by the field and nothing changes', async () => {
    const id = idIn(
      await (
        await post('/console/webhooks', [
          ['url', receiver.url],
          ['kind', 'standard'],
          ['events', 'member.joined'],
          ['description', 'Kept'],
        ])
      ).text(),
    );
    const before = await stored(id);
    const bad = await post(`/console/webhooks/${id}/edit`, [
      ['url', 'ftp://user:pw@hooks.example.org/x'],
      ['events', 'member.renewed'],
      ['description', 'Changed'],
    ]);
    expect(bad.status).toBe(422);
    const badHtml = await bad.text();
    expect(badHtml).toContain('id="url-error">an http(s) URL without user name or password<');
    expect(badHtml).toContain('value="Changed"'); // the form as typed
    const none = await post(`/console/webhooks/${id}/edit`, [['url', receiver.url]]);
    expect(none.status).toBe(422);
    expect(await none.text()).toContain('id="events-error">choose at least one<');
    expect(await stored(id)).toEqual(before);

    const slack = idIn(
      await (
        await post('/console/webhooks', [
          ['url', 'https://hooks.example.org/services/T1/B1/y'],
          ['kind', 'slack'],
          ['slackEvents', 'campaign.milestone'],
        ])
      ).text(),
    );
    const slackForm = await (await get(`/console/webhooks/${slack}`)).text();
    expect(slackForm).toContain('name="events" value="campaign.daily_total"');
    expect(slackForm).not.toContain('name="events" value="member.joined"');
    const slackBefore = await stored(slack);
    const wrong = await post(`/console/webhooks/${slack}/edit`, [
      ['url', 'https://hooks.example.org/services/T1/B1/y'],
      ['events', 'member.joined'],
    ]);
    expect(wrong.status).toBe(422);
    expect(await wrong.text()).toContain('id="events-error">not for a slack endpoint: member.joined<');
    expect(await stored(slack)).toEqual(slackBefore);
  });

  it('when a process that reaches only public addresses is sent an edit to a private or loopback URL, then the form says so by the URL field and nothing changes', async () => {
    const id = idIn(
      await (
        await post('/console/webhooks', [
          ['url', 'https://hooks.example.org/public'],
          ['kind', 'standard'],
          ['events', 'member.joined'],
        ])
      ).text(),
    );
    const before = await stored(id);
    for (const url of ['http://10.0.0.5/hook', 'http://127.0.0.1:8080/hook', 'http://169.254.169.254/']) {
      const res = await post(
        `/console/webhooks/${id}/edit`,
        [
          ['url', url],
          ['events', 'member.joined'],
        ],
        'admin',
        strict,
      );
      expect(res.status, url).toBe(422);
      const html = await res.text();
      expect(html).toContain(
        'id="url-error">This address is not public (private, loopback or link-local): it is refused.<',
      );
      expect(html).toContain(`value="${url}"`);
    }
    expect(await stored(id)).toEqual(before);
  });

  it('when an editor posts the edit form, then it is refused and nothing changes', async () => {
    const id = idIn(
      await (
        await post('/console/webhooks', [
          ['url', receiver.url],
          ['kind', 'standard'],
          ['events', 'member.joined'],
        ])
      ).text(),
    );
    const before = await stored(id);
    const res = await post(
      `/console/webhooks/${id}/edit`,
      [
        ['url', 'https://elsewhere.example.org/hook'],
        ['events', 'member.canceled'],
      ],
      'editor',
    );
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('admin');
    expect(await stored(id)).toEqual(before);
  });
});
