import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { applyEmailEvents } from '../../src/email/email-events.service.js';
import { backfillMemberEntries } from '../../src/ledger/member-entries.js';
import { findMemberByEmail } from '../../src/memberships/member-keys.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';
import { STAFF_PASSWORD } from '../support/staff.js';
import {
  checkoutSession,
  firstInvoicePaid,
  postEvent,
  purchase,
  stripeEvent,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';

// The console's member page at national scale: staff open it while answering a reader, and on
// FerretDB any filter but `{_id}` decodes a whole collection (the ledger, every email, every gift).
// So the page must find everything by primary key: the member's own lists and the records listed
// under their address. The filters the app sends are recorded through mongoose's debug hook.

const clock = manualClock(new Date('2026-11-20T10:00:00Z'));
let app: TestApp;
let cookie: string;
const filters: { collection: string; method: string; filter: unknown }[] = [];
let recording = false;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
  const email = 'finance@newsroom.example';
  await createStaffUser(app.deps.db, { email, name: 'Finance', role: 'finance', password: STAFF_PASSWORD });
  const res = await fetch(`${app.url}/console/sign-in`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/html',
      'sec-fetch-site': 'same-origin',
    },
    body: new URLSearchParams({ email, password: STAFF_PASSWORD }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ');
  app.deps.db.set('debug', (collection: string, method: string, filter: unknown) => {
    if (recording) filters.push({ collection, method, filter });
  });
});
afterAll(async () => {
  app.deps.db.set('debug', false);
  await app?.close();
});

const json = (path: string, body: unknown) =>
  fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'TestBrowser/1.0' },
    body: JSON.stringify(body),
  });
const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
/** The words of one section of the page, from its heading on. */
const section = (html: string, id: string) => {
  const from = html.indexOf('>', html.indexOf(`id="${id}-heading"`)) + 1;
  return text(html.slice(from).split('</section>')[0]!);
};

const byPrimaryKey = (filter: unknown) => {
  if (!filter || typeof filter !== 'object') return false;
  const keys = Object.keys(filter);
  if (keys.length !== 1 || keys[0] !== '_id') return false;
  const id = (filter as { _id: unknown })._id;
  return id instanceof Types.ObjectId || typeof id !== 'object' || id === null;
};
const scans = () =>
  filters.filter(({ method, filter }) => !method.startsWith('insert') && !byPrimaryKey(filter));

/** A reader who joined, signed up for a newsletter, bought a gift, and whose welcome was delivered. */
async function activeMember(email: string) {
  const p = purchase({ email, name: 'Olena Kovalenko', amount: 750 });
  for (const event of [
    stripeEvent('checkout.session.completed', checkoutSession(p), p.at),
    stripeEvent('invoice.paid', firstInvoicePaid(p), p.at + 2),
  ])
    expect((await postEvent(app.url, event)).status).toBe(200);
  const signUp = await json('/newsletters/subscriptions', {
    email,
    lists: ['editors-picks'],
    consentTextVersion: '2026-11',
  });
  expect(signUp.status).toBe(202);
  const gift = await json('/gifts/checkout', {
    purchaserName: 'Olena',
    purchaserEmail: email,
    recipientName: 'Taras',
    recipientEmail: 'taras@example.com',
    durationMonths: 12,
    currency: 'eur',
    deliverOn: '2026-12-24',
  });
  expect(gift.status).toBe(201);
  const welcome = await emailModels(app.deps.db)
    .EmailJob.findOne({ 'to.email': email, template: 'member-welcome' })
    .lean();
  await applyEmailEvents(app.deps.db, clock, [
    {
      email,
      event: 'delivered',
      sg_event_id: `sg-${email}`,
      job_id: String(welcome!._id),
      timestamp: Math.floor(clock.now().getTime() / 1000),
    },
  ]);
  return (await findMemberByEmail(app.deps.db, email))!;
}

describe('the console member page by primary key', () => {
  it('when finance staff open a member who joined, signed up and gave a gift, then they see it all and every filter sent is by _id', async () => {
    const member = await activeMember('olena.record@example.com');

    filters.length = 0;
    recording = true;
    const res = await fetch(`${app.url}/console/members/${member._id}`, { headers: { cookie } });
    recording = false;
    const html = await res.text();

    expect(res.status).toBe(200);
    expect(scans()).toEqual([]);
    expect(filters.length).toBeGreaterThan(10);
    expect(section(html, 'subs')).toMatch(/supporter.*€7\.50.*active/);
    expect(section(html, 'payments')).toMatch(/^Payments.* subscription_payment €7\.50 in_sub_\w+$/);
    expect(section(html, 'gifts')).toMatch(/Taras.*12.*€/);
    expect(section(html, 'emails')).toMatch(/member-welcome .*delivered/);
    expect(section(html, 'emails')).toContain('newsletter-confirmation');
    expect(section(html, 'consent')).toMatch(/editors-picks: pending/);
    expect(section(html, 'consent')).toMatch(/editors-picks opt_in_requested/);
  });

  it('when a payment was booked before entries were listed under their member, then after the migration the page shows it, newest first, by _id', async () => {
    const member = (await findMemberByEmail(app.deps.db, 'olena.record@example.com'))!;
    await app.deps.db.db!.collection('ledger').insertOne({
      _id: 'in_before_lists' as never,
      kind: 'subscription_payment',
      amount: 500,
      currency: 'eur',
      occurredAt: new Date('2025-11-20T10:00:00Z'),
      day: '2025-11-20',
      month: '2025-11',
      memberId: member._id,
      invoiceId: 'in_before_lists',
      recordedAt: new Date('2025-11-20T10:00:00Z'),
    });
    expect(await backfillMemberEntries(app.deps.db)).toBe(2);

    filters.length = 0;
    recording = true;
    const html = await (
      await fetch(`${app.url}/console/members/${member._id}`, { headers: { cookie } })
    ).text();
    recording = false;

    expect(scans()).toEqual([]);
    expect(section(html, 'payments')).toMatch(
      /subscription_payment €7\.50 in_sub_\w+ .* subscription_payment €5\.00 in_before_lists$/,
    );
  });
});
