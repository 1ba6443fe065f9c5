import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { emailModels } from '../../src/email/email.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { sponsorshipModels } from '../../src/sponsorship/sponsorship.model.js';
import { staffToken } from '../support/staff.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import {
  DEPLOYED_ANSWER_FLOORS,
  startTestApp,
  TEST_ENV,
  type TestApp,
  testConfig,
} from '../support/test-app.js';

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;
let campaign: Campaign;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
  const now = app.deps.clock.now().getTime();
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'birthday',
      title: 'Our birthday drive',
      goal: 1000,
      startsAt: new Date(now - 86_400_000),
      endsAt: new Date(now + 86_400_000),
      timeZone: 'UTC',
    })
  ).toObject();
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('paying into the pool', () => {
  it('when a supporter sponsors 3 readers, then Stripe Checkout is asked for three years of membership, marked as a sponsorship of this campaign', async () => {
    const res = await post('/sponsorships/checkout', {
      campaign: 'birthday',
      email: 'anna@example.com',
      currency: 'eur',
      memberships: 3,
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ sessionId: expect.any(String), url: expect.any(String) });
    const sent = recorder.requests.find((r) => r.path === '/v1/checkout/sessions')!;
    expect(sent.params).toMatchObject({
      mode: 'payment',
      'line_items[0][price_data][unit_amount]': '15000',
      'line_items[0][price_data][currency]': 'eur',
      'metadata[kind]': 'sponsorship',
      'metadata[campaignId]': String(campaign._id),
    });
  });

  it('when neither memberships nor an amount is given, then it is a 422 and Stripe is not asked', async () => {
    const before = recorder.requests.length;
    const res = await post('/sponsorships/checkout', {
      campaign: 'birthday',
      email: 'a@example.com',
      currency: 'eur',
    });
    expect(res.status).toBe(422);
    expect((await res.json()).error.code).toBe('validation_failed');
    expect(recorder.requests.length).toBe(before);
  });
});

describe('the Idempotency-Key header', () => {
  it('when it is too long or holds other characters than letters, digits, _ and -, then 422 and Stripe is not asked', async () => {
    const before = recorder.requests.length;
    for (const key of ['k'.repeat(300), 'key with spaces', 'short']) {
      const res = await post(
        '/sponsorships/checkout',
        { campaign: 'birthday', email: 'anna@example.com', currency: 'eur', memberships: 1 },
        { 'idempotency-key': key },
      );
      expect(res.status).toBe(422);
    }
    expect(recorder.requests.length).toBe(before);
  });
});

describe('readers asking and staff deciding', () => {
  it('when a reader asks through the form, confirms, and an editor decides in bulk with a note, then the request is decided and a malformed request changes nothing', async () => {
    const bad = await post('/sponsorships/requests', {
      campaign: 'birthday',
      email: 'nope',
      reason: '',
      country: 'Ukraine',
    });
    expect(bad.status).toBe(422);
    expect(await sponsorshipModels(app.deps.db).Request.countDocuments()).toBe(0);

    const asked = await post('/sponsorships/requests', {
      campaign: 'birthday',
      email: 'olha@example.org',
      reason: 'I study in Kharkiv',
      country: 'ua',
      locale: 'uk',
    });
    expect(asked.status).toBe(202);
    const job = await emailModels(app.deps.db).EmailJob.findOne({ template: 'sponsorship-confirm' }).lean();
    const link = new URL(String(job!.data.confirmUrl));
    expect((await fetch(`${app.url}${link.pathname}${link.search}`)).status).toBe(200); // a page, no change
    const confirmed = await post('/sponsorships/confirm', Object.fromEntries(link.searchParams));
    expect(confirmed.status).toBe(200);

    const { authorization } = await staffToken(app.url, app.deps.db, 'editor');
    const auth = { authorization };
    const list = await (await fetch(`${app.url}/sponsorships/birthday/requests`, { headers: auth })).json();
    expect(list.requests).toEqual([
      expect.objectContaining({ email: 'olha@example.org', country: 'UA', status: 'requested' }),
    ]);
    const decided = await post(
      '/sponsorships/birthday/decisions',
      { ids: [list.requests[0].id], decision: 'decline', note: 'outside the programme' },
      auth,
    );
    expect(await decided.json()).toEqual({ results: [{ id: list.requests[0].id, outcome: 'declined' }] });
    expect(await sponsorshipModels(app.deps.db).Request.findOne().lean()).toMatchObject({
      status: 'declined',
      note: 'outside the programme',
      decidedBy: 'staff:editor@newsroom.example',
    });
    const told = await emailModels(app.deps.db).EmailJob.findOne({ template: 'sponsorship-declined' }).lean();
    expect(told).toMatchObject({ locale: 'uk', to: { email: 'olha@example.org' } });
    expect((await post('/sponsorships/birthday/decisions', { ids: ['x'], decision: 'approve' })).status).toBe(
      401,
    );
  });

  it('when finance asks for the pool report and the widget for the sponsored count, then they get them', async () => {
    const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
    const report = await fetch(`${app.url}/reports/sponsorship/birthday`, { headers: { authorization } });
    expect(report.status).toBe(200);
    expect((await report.json()).pools).toContainEqual(
      expect.objectContaining({ currency: 'eur', price: 5000, balance: 0, membershipsGiven: 0 }),
    );
    const sponsored = await fetch(`${app.url}/campaigns/birthday/sponsored`);
    expect(sponsored.headers.get('access-control-allow-origin')).toBe('*');
    expect(await sponsored.json()).toEqual({ readersSponsored: 0 });
  });
});

describe('a Ukrainian reader', () => {
  const form = (path: string, fields: Record<string, string>) =>
    fetch(`${app.url}${path}`, {
      method: 'POST',
      headers: { accept: 'text/html', 'x-forwarded-for': '10.7.0.1' },
      body: new URLSearchParams(fields),
    });

  it('when they ask in Ukrainian and confirm from the email, then every page they see is in Ukrainian', async () => {
    const asking = await (await fetch(`${app.url}/sponsorships/request?campaign=birthday&locale=uk`)).text();
    expect(asking).toContain('<h1>Попросити членство, оплачене прихильниками</h1>');
    expect(asking).toContain('<label for="reason">Чому ви просите (достатньо одного речення)</label>');
    expect(asking).toContain('<option value="uk" lang="uk" selected>Українська</option>');
    expect(asking).toContain('<button type="submit">Попросити</button>');

    const asked = await form('/sponsorships/requests', {
      campaign: 'birthday',
      email: 'marta@example.org',
      reason: 'Я студентка',
      country: 'UA',
      locale: 'uk',
    });
    expect(asked.status).toBe(202);
    expect(await asked.text()).toContain('Дякуємо. Якщо ця адреса може отримувати пошту');

    const job = await emailModels(app.deps.db)
      .EmailJob.findOne({ template: 'sponsorship-confirm', 'to.email': 'marta@example.org' })
      .lean();
    const link = new URL(String(job!.data.confirmUrl));
    const confirming = await (await fetch(`${app.url}${link.pathname}${link.search}`)).text();
    expect(confirming).toContain('<h1>Підтвердіть запит</h1>');
    expect(confirming).toContain('<button type="submit">Підтвердити запит</button>');

    const confirmed = await form('/sponsorships/confirm', Object.fromEntries(link.searchParams));
    expect(confirmed.status).toBe(200);
    const done = await confirmed.text();
    expect(done).toContain('<title>Членство, оплачене прихильниками');
    expect(done).toContain('Дякуємо: ваш запит підтверджено.');
  });
});

describe('asking twice', () => {
  it('when an address asks for the first time and again, then each answer takes at least the deployed floor, so the time does not tell that it already asked', async () => {
    // The floor as deployed (100 ms); the other tests run with a small one.
    const deployed = await startTestApp({
      db: app.deps.db,
      config: testConfig(DEPLOYED_ANSWER_FLOORS),
      deps: { clock: app.deps.clock, stripe: app.deps.stripe },
    });
    onTestFinished(() => deployed.close());
    const ask = { campaign: 'birthday', email: 'timed@example.org', reason: 'I study', country: 'ua' };
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const res = await fetch(`${deployed.url}/sponsorships/requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(ask),
      });
      expect(res.status).toBe(202);
      expect(performance.now() - started).toBeGreaterThanOrEqual(98);
    }
    expect(await sponsorshipModels(app.deps.db).Request.countDocuments({ email: 'timed@example.org' })).toBe(
      1,
    );
  });
});
