import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeClient } from '../../src/infra/stripe.js';
import { STAFF_PASSWORD, staffToken } from '../support/staff.js';
import {
  charge,
  checkoutSession,
  invoice,
  postEvent,
  purchase,
  stripeEvent,
} from '../support/stripe-events.js';
import { startStripeRecorder } from '../support/stripe-recorder.js';
import { startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Where members come from: readers check out from two articles through two placements (the real
// checkout route, what Stripe received, signed Stripe webhooks), and the attribution report and
// funnel show the right counts and money; nothing in the funnel's records names a reader.

let app: TestApp;
let recorder: Awaited<ReturnType<typeof startStripeRecorder>>;

beforeAll(async () => {
  recorder = await startStripeRecorder();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC' }),
    deps: { stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, recorder.connection) },
  });
});
afterAll(async () => {
  await app.close();
  await recorder.close();
});

const DAY = 86_400;
// The test app's clock stands at 2026-11-27 12:00 UTC: beacons and checkouts started count then.
const PAID_AT = Date.parse('2026-11-27T12:05:00Z') / 1000;
const READER_IP = '203.0.113.9';

async function checkout(body: Record<string, unknown>) {
  const res = await fetch(`${app.url}/memberships/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': READER_IP },
    body: JSON.stringify({ currency: 'eur', locale: 'en', campaign: 'spring', ...body }),
  });
  return { res, body: (await res.json()) as Record<string, unknown> };
}

/** The session's metadata as Stripe received it. */
function sentMetadata(): Record<string, string> {
  const params = recorder.requests.at(-1)!.params;
  return Object.fromEntries(
    Object.entries(params)
      .filter(([key]) => key.startsWith('metadata['))
      .map(([key, value]) => [key.slice('metadata['.length, -1), value]),
  );
}

const beacon = (query: string) =>
  fetch(`${app.url}/attribution/events?${query}`, {
    method: 'POST',
    headers: { 'x-forwarded-for': READER_IP, cookie: 'reader=someone@example.com' },
  });

async function report(
  query = 'campaign=spring&from=2026-11-27&to=2026-12-31',
  path = '/reports/attribution',
) {
  const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
  return fetch(`${app.url}${path}?${query}`, { headers: { authorization } });
}

describe('checkouts from two articles and two placements', () => {
  const readers = {
    a: purchase({ email: 'reader.a@example.com', amount: 500, at: PAID_AT }),
    b: purchase({ email: 'reader.b@example.com', plan: 'patron', amount: 1500, at: PAID_AT }),
    c: purchase({ email: 'reader.c@example.com', amount: 2500, at: PAID_AT }),
  };
  const sent: Record<string, Record<string, string>> = {};

  beforeAll(async () => {
    // Five views and three clicks on the article pages, from the widget and the button.
    for (const query of [
      'event=view&campaign=spring&placement=widget',
      'event=view&campaign=spring&placement=widget',
      'event=view&campaign=spring&placement=widget',
      'event=view&campaign=spring&placement=button',
      'event=view&campaign=spring&placement=button',
      'event=click&campaign=spring&placement=widget',
      'event=click&campaign=spring&placement=widget',
      'event=click&campaign=spring&placement=button',
    ]) {
      const res = await beacon(query);
      expect(res.status).toBe(204);
      expect(res.headers.get('set-cookie')).toBeNull();
    }

    // Reader A: story A's widget, from t.co, with utm tags in the page's address.
    let started = await checkout({
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      email: readers.a.email,
      page: 'https://news.example/2026/story-a?utm_source=twitter&utm_medium=social&fbclid=XYZ&email=reader.a@example.com#comments',
      placement: 'widget',
      referrer: 'https://t.co/abc?session=1',
    });
    expect(started.res.status).toBe(201);
    sent.a = sentMetadata();
    // Reader B: story B's button, from the weekly newsletter.
    started = await checkout({
      kind: 'membership',
      plan: 'patron',
      interval: 'month',
      email: readers.b.email,
      page: 'https://news.example/2026/story-b',
      placement: 'button',
      utm_source: 'weekly',
      utm_medium: 'email',
      utm_campaign: 'nov-27',
    });
    expect(started.res.status).toBe(201);
    sent.b = sentMetadata();
    // Reader C: a one-time contribution from story A's button, found on Google.
    started = await checkout({
      kind: 'one_time',
      amount: 2500,
      email: readers.c.email,
      page: '/2026/story-a',
      placement: 'button',
      referrer: 'https://www.google.com/search?q=story',
    });
    expect(started.res.status).toBe(201);
    sent.c = sentMetadata();
    // Reader D starts from story B's widget and never pays.
    started = await checkout({
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      email: 'reader.d@example.com',
      page: 'https://news.example/2026/story-b',
      placement: 'widget',
    });
    expect(started.res.status).toBe(201);

    // Stripe tells us what was paid, with the metadata our checkout gave it.
    const { a, b, c } = readers;
    for (const [p, metadata] of [
      [a, sent.a],
      [b, sent.b],
    ] as const) {
      await postEvent(
        app.url,
        stripeEvent('checkout.session.completed', checkoutSession(p, { metadata }), p.at),
      );
      await postEvent(
        app.url,
        stripeEvent('invoice.paid', invoice(p, { metadata, billingReason: 'subscription_create' }), p.at + 5),
      );
    }
    await postEvent(
      app.url,
      stripeEvent(
        'checkout.session.completed',
        checkoutSession(c, { kind: 'one_time', metadata: sent.c }),
        c.at,
      ),
    );
    // C gets 5.00 of their 25.00 back: first-year money is net of it.
    await postEvent(
      app.url,
      stripeEvent('charge.refunded', charge(c, { amountRefunded: 500, kind: 'one_time' }), c.at + 100),
    );
    // Stripe delivers A's completion again: nothing is counted twice.
    await postEvent(
      app.url,
      stripeEvent('checkout.session.completed', checkoutSession(a, { metadata: sent.a }), a.at),
    );
    // A renews a month later (first-year money) and again after more than a year (not first-year).
    const renewal = { ...a, at: a.at + 30 * DAY };
    await postEvent(
      app.url,
      stripeEvent('invoice.paid', invoice(renewal, { metadata: sent.a }), renewal.at + 5),
    );
    const later = { ...a, at: a.at + 400 * DAY };
    await postEvent(
      app.url,
      stripeEvent('invoice.paid', invoice(later, { id: 'in_second_year', metadata: sent.a }), later.at + 5),
    );
  });

  it('when checkout starts, then Stripe receives the page without its query string, the placement, the referrer host and the UTM tags, inside its metadata limits', () => {
    expect(sent.a).toMatchObject({
      campaign: 'spring',
      attr_page: 'news.example/2026/story-a',
      attr_placement: 'widget',
      attr_referrer: 't.co',
      attr_utmSource: 'twitter',
      attr_utmMedium: 'social',
    });
    expect(JSON.stringify(sent.a)).not.toContain('fbclid');
    expect(JSON.stringify(sent.a)).not.toContain('reader.a@');
    expect(sent.b).toMatchObject({ attr_newsletter: 'weekly', attr_utmCampaign: 'nov-27' });
    expect(sent.c).toMatchObject({ attr_page: '/2026/story-a', attr_referrer: 'www.google.com' });
    for (const metadata of Object.values(sent)) {
      expect(Object.keys(metadata).length).toBeLessThanOrEqual(50);
      for (const [key, value] of Object.entries(metadata)) {
        expect(key.length).toBeLessThanOrEqual(40);
        expect(value.length).toBeLessThanOrEqual(500);
      }
    }
  });

  it('when the webhooks are applied, then the member and their ledger entries keep where they came from', async () => {
    const member = await app.deps.db.collection('members').findOne({ email: readers.a.email });
    expect(member?.attribution).toMatchObject({
      page: 'news.example/2026/story-a',
      placement: 'widget',
      referrer: 't.co',
    });
    const entries = await app.deps.db
      .collection('ledger')
      .find({ email: { $in: [readers.a.email, readers.c.email] }, kind: { $ne: 'refund' } })
      .toArray();
    expect(entries.length).toBe(4); // A's first, renewal and second-year payments; C's contribution
    for (const entry of entries) expect(entry.attribution?.page).toMatch(/story-a$/);
  });

  it('when finance pulls the attribution report, then members and first-year money (refunds off) are right by article, placement, newsletter and referrer', async () => {
    const res = await report();
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.totals).toEqual({ members: 2, revenue: { eur: 500 + 500 + 1500 + 2500 - 500 } });
    expect(body.byArticle).toEqual([
      { value: 'news.example/2026/story-a', members: 1, revenue: { eur: 1000 } },
      { value: 'news.example/2026/story-b', members: 1, revenue: { eur: 1500 } },
      { value: '/2026/story-a', members: 0, revenue: { eur: 2000 } },
    ]);
    expect(body.byPlacement).toEqual([
      { value: 'button', members: 1, revenue: { eur: 3500 } },
      { value: 'widget', members: 1, revenue: { eur: 1000 } },
    ]);
    expect(body.byNewsletter).toEqual([
      { value: '(none)', members: 1, revenue: { eur: 3000 } },
      { value: 'weekly', members: 1, revenue: { eur: 1500 } },
    ]);
    expect(body.byReferrer).toEqual([
      { value: '(none)', members: 1, revenue: { eur: 1500 } },
      { value: 't.co', members: 1, revenue: { eur: 1000 } },
      { value: 'www.google.com', members: 0, revenue: { eur: 2000 } },
    ]);
  });

  it('when finance pulls the funnel, then views, clicks, checkouts started and paid are counted per placement, once each', async () => {
    const body = await (await report()).json();
    expect(body.funnel.total).toEqual({ view: 5, click: 3, started: 4, paid: 3 });
    expect(body.funnel.byPlacement).toEqual(
      expect.arrayContaining([
        { placement: 'widget', view: 3, click: 2, started: 2, paid: 1 },
        { placement: 'button', view: 2, click: 1, started: 2, paid: 2 },
      ]),
    );
    const csv = await (
      await report('campaign=spring&from=2026-11-27&to=2026-11-27&format=csv', '/reports/funnel')
    ).text();
    expect(csv.trim().split('\n')).toEqual([
      'day,placement,view,click,started,paid',
      '2026-11-27,widget,3,2,2,1',
      '2026-11-27,button,2,1,2,2',
    ]);
  });

  it('when the report is downloaded as CSV, then each dimension, value and currency is a line', async () => {
    const csv = await (await report('campaign=spring&from=2026-11-27&to=2026-12-31&format=csv')).text();
    expect(csv.split('\n')).toEqual(
      expect.arrayContaining([
        'dimension,value,members,currency,first_year_revenue',
        'article,news.example/2026/story-a,1,eur,1000',
        'placement,button,1,eur,3500',
        'newsletter,weekly,1,eur,1500',
        'referrer,www.google.com,0,eur,2000',
      ]),
    );
  });

  it('when the funnel and attribution records are read, then none holds a reader’s address, IP or cookie', async () => {
    const db = app.deps.db;
    const funnelMarks = await db
      .collection('tally_marks')
      .find({ _id: { $regex: '^funnel:' } as never })
      .toArray();
    expect(funnelMarks.length).toBe(5 + 3 + 4 + 3);
    const records = [
      ...funnelMarks,
      ...(await db.collection('funnel_placements').find().toArray()),
      ...(await db.collection('attribution_rows').find().toArray()),
    ];
    const stored = JSON.stringify(records);
    for (const reader of [
      ...Object.values(readers).map((r) => r.email),
      'reader.d@example.com',
      'someone@example.com',
    ])
      expect(stored).not.toContain(reader);
    expect(stored).not.toContain('@');
    expect(stored).not.toContain(READER_IP);
    expect(stored).not.toContain('127.0.0.1');
    expect(stored).not.toMatch(/::ffff|::1/);
    // The second-year payment is in the ledger, not in first-year money.
    expect(stored).not.toContain('in_second_year');
  });

  it('when finance opens the console page and its CSV, then they show the same figures', async () => {
    await staffToken(app.url, app.deps.db, 'finance'); // makes the finance user
    const form = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };
    const signIn = await fetch(`${app.url}/console/sign-in`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ email: 'finance@newsroom.example', password: STAFF_PASSWORD }),
      redirect: 'manual',
    });
    const cookie = signIn.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .join('; ');
    const query = 'campaign=spring&from=2026-11-27&to=2026-12-31';
    const page = await fetch(`${app.url}/console/sources?${query}`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<strong>2</strong> members joined through checkout');
    expect(html).toContain('€45.00');
    expect(html).toMatch(/<td>widget<\/td><td class="num">3<\/td><td class="num">2<\/td>/);
    const csv = await (
      await fetch(`${app.url}/console/sources/attribution.csv?${query}`, { headers: { cookie } })
    ).text();
    expect(csv).toContain('article,news.example/2026/story-b,1,eur,1500');
  });

  it('when an editor asks for the report, then it is refused', async () => {
    const { authorization } = await staffToken(app.url, app.deps.db, 'editor');
    const res = await fetch(`${app.url}/reports/attribution?campaign=spring&from=2026-11-27&to=2026-11-27`, {
      headers: { authorization },
    });
    expect(res.status).toBe(403);
  });
});

describe('the hosted page', () => {
  it('when a reader arrives from a button link, then the form carries the page, placement and tags on to Stripe, leaving out what would be refused', async () => {
    const link = new URLSearchParams({
      campaign: 'spring',
      placement: 'sidebar',
      page: 'https://news.example/2026/story-c?session=abc',
      utm_source: 'weekly',
      utm_medium: 'email',
      utm_term: 'reader@example.com', // would be refused: left out, the reader can still pay
    });
    const html = await (await fetch(`${app.url}/membership?${link}`)).text();
    expect(html).toContain('<input type="hidden" name="placement" value="sidebar">');
    expect(html).not.toContain('name="utm_term"');
    const hidden = Object.fromEntries(
      [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [
        m[1]!,
        m[2]!.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&'),
      ]),
    );
    const res = await fetch(`${app.url}/memberships/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({
        ...hidden,
        kind: 'membership',
        plan: 'supporter',
        interval: 'month',
        currency: 'eur',
        email: 'hosted@example.com',
      }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(sentMetadata()).toMatchObject({
      campaign: 'spring',
      attr_page: 'news.example/2026/story-c',
      attr_placement: 'sidebar',
      attr_newsletter: 'weekly',
    });
  });
});

describe('bad attribution', () => {
  const membership = {
    kind: 'membership',
    plan: 'supporter',
    interval: 'month',
    email: 'bad.input@example.com',
  };

  it.each([
    ['a page that is not a web address', { page: 'javascript:alert(1)' }, 'page'],
    ['a page longer than 300 characters', { page: `https://news.example/${'a'.repeat(300)}` }, 'page'],
    ['a page naming an address', { page: 'https://news.example/u/reader@example.com/' }, 'page'],
    ['a placement with spaces', { placement: 'top of page' }, 'placement'],
    ['a placement of 41 characters', { placement: 'p'.repeat(41) }, 'placement'],
    ['a referrer that is not a web address', { referrer: 'file:///etc/passwd' }, 'referrer'],
    ['a utm_source naming an address', { utm_source: 'reader@example.com' }, 'utm_source'],
    ['a utm_term of 101 characters', { utm_term: 't'.repeat(101) }, 'utm_term'],
    ['a newsletter id with a slash', { newsletter: 'weekly/1' }, 'newsletter'],
  ])(
    'when checkout is sent %s, then it is refused with attribution_invalid and Stripe is not asked',
    async (_, bad, path) => {
      const before = recorder.requests.length;
      const { res, body } = await checkout({ ...membership, ...bad });
      expect(res.status).toBe(422);
      expect(body.error).toMatchObject({
        code: 'attribution_invalid',
        details: [expect.objectContaining({ path })],
      });
      expect(recorder.requests.length).toBe(before);
    },
  );

  it('when a beacon names an unknown event or a bad placement, then it is refused with attribution_invalid and nothing is counted', async () => {
    const before = await app.deps.db.collection('tally_marks').countDocuments();
    for (const query of [
      'event=hover&campaign=spring',
      'event=view&campaign=Spring Drive',
      `event=view&campaign=spring&placement=${'x'.repeat(41)}`,
    ]) {
      const res = await beacon(query);
      expect(res.status).toBe(422);
      expect((await res.json()).error.code).toBe('attribution_invalid');
    }
    expect(await app.deps.db.collection('tally_marks').countDocuments()).toBe(before);
  });

  it('when more placements than the limit are sent for one campaign, then the rest count as other', async () => {
    for (let i = 0; i < 25; i++)
      expect((await beacon(`event=view&campaign=flood&placement=p${i}`)).status).toBe(204);
    const body = await (
      await report('campaign=flood&from=2026-11-27&to=2026-11-27', '/reports/funnel')
    ).json();
    expect(body.byPlacement.length).toBe(21);
    expect(body.byPlacement).toContainEqual({ placement: 'other', view: 5, click: 0, started: 0, paid: 0 });
  });
});
