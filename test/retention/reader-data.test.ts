import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAtAddress } from '../../src/email/address-records.js';
import { emailModels } from '../../src/email/email.model.js';
import { applyEmailEvents } from '../../src/email/email-events.service.js';
import { backfillGiftAddresses } from '../../src/gifts/gift.model.js';
import { giftDepsFrom } from '../../src/gifts/gift-deps.js';
import { updateGiftBeforeDelivery } from '../../src/gifts/gift-purchase.js';
import { newsletterModels } from '../../src/newsletters/newsletter.model.js';
import { backfillReaderRecords } from '../../src/retention/reader-data.service.js';
import { staffToken } from '../support/staff.js';
import { checkoutSession, postEvent, purchase, stripeEvent } from '../support/stripe-events.js';
import { manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// A reader's data (admin lookup, their own download, erasure) is found by primary keys only: the
// records are listed under the address by their writers, and by a migration for records written
// before. On FerretDB any other filter decodes the whole collection (14 s at 68,000 consents).

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let admin: { authorization: string };
/** Every filter the app sends to the database, through mongoose's debug hook. */
const filters: { collection: string; method: string; filter: unknown }[] = [];
let recording = false;

beforeAll(async () => {
  app = await startTestApp({ deps: { clock }, config: testConfig({ NEWSLETTER_SIGNUPS_PER_IP: '50' }) });
  admin = await staffToken(app.url, app.deps.db, 'admin');
  app.deps.db.set('debug', (collection: string, method: string, filter: unknown) => {
    if (recording) filters.push({ collection, method, filter });
  });
});
afterAll(() => app.close());

const models = () => ({ ...newsletterModels(app.deps.db), ...emailModels(app.deps.db) });
const raw = (name: string) => app.deps.db.db!.collection(name);
const local = (link: string) => {
  const url = new URL(link);
  return `${app.url}${url.pathname}${url.search}`;
};
const postForm = (path: string, form: Record<string, string>) =>
  fetch(`${app.url}${path}`, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
const signUp = (email: string, lists: string[]) =>
  fetch(`${app.url}/newsletters/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'TestBrowser/1.0' },
    body: JSON.stringify({ email, lists, consentTextVersion: '2026-11' }),
  });

/** A reader who did everything through the app: signed up, confirmed, unsubscribed, joined, signed in. */
async function activeReader(email: string) {
  expect((await signUp(email, ['editors-picks', 'explaining-ukraine'])).status).toBe(202);
  const confirmation = await models()
    .EmailJob.findOne({ 'to.email': email, template: 'newsletter-confirmation' })
    .lean();
  const token = new URL(String(confirmation!.data.confirmUrl)).searchParams.get('token')!;
  expect((await postForm('/newsletters/confirm', { token })).status).toBeLessThan(400);
  clock.advance(60_000);
  const welcome = await models()
    .EmailJob.findOne({ 'to.email': email, template: 'newsletter-welcome' })
    .lean();
  const unsubscribe = new URL(welcome!.listUnsubscribeUrl!);
  unsubscribe.searchParams.set('list', 'explaining-ukraine');
  expect(
    (
      await fetch(local(unsubscribe.toString()), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      })
    ).status,
  ).toBe(200);
  const p = purchase({ email });
  expect(
    (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p)))).status,
  ).toBe(200);
  expect(
    (
      await fetch(`${app.url}/account/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      })
    ).status,
  ).toBeLessThan(300);
  await applyEmailEvents(app.deps.db, clock, [
    {
      email,
      event: 'delivered',
      sg_event_id: `sg-${email}`,
      timestamp: Math.floor(clock.now().getTime() / 1000),
    },
  ]);
  return new URL(String(welcome!.data.dataUrl));
}

/** A reader whose records were written before the address lists were kept (around the models). */
async function legacyReader(email: string) {
  await raw('newsletter_subscriptions').insertOne({
    _id: `old-list:${email}` as never,
    list: 'old-list',
    email,
    locale: 'en',
    status: 'confirmed',
    requestedAt: new Date('2021-01-01'),
  });
  await raw('newsletter_consents').insertMany([
    { email, list: 'old-list', action: 'opt_in_requested', at: new Date('2021-01-01') },
    { email, list: 'old-list', action: 'confirmed', at: new Date('2021-01-02') },
  ]);
  await raw('newsletter_tokens').insertOne({
    _id: `tok-${email}` as never,
    email,
    lists: ['old-list'],
    expiresAt: new Date('2021-01-03'),
  });
  await raw('email_jobs').insertOne({
    _id: new Types.ObjectId(),
    idempotencyKey: `old-confirmation:${email}`,
    template: 'newsletter-confirmation',
    status: 'sent',
    to: { email },
    data: {},
    createdAt: new Date('2021-01-01'),
  });
  await raw('email_events').insertOne({
    _id: `sg-old-${email}` as never,
    email,
    event: 'delivered',
    receivedAt: clock.now(),
  });
  await raw('claims').insertOne({
    _id: `newsletter-confirmation:${email}:123` as never,
    claimedAt: clock.now(),
  });
  await raw('marketing_sync_jobs').insertOne({ key: `add:old-list:${email}:1`, email, status: 'done' });
}

/** What the old scans found: what the export must still return. */
async function scanned(email: string) {
  const { Subscription, Consent, EmailJob } = models();
  return {
    email,
    subscriptions: (await Subscription.find({ email }).sort({ list: 1 }).lean()).map(
      ({ _id, ...rest }) => rest,
    ),
    consents: await Consent.find({ email }).sort({ at: 1 }).select({ _id: 0 }).lean(),
    emails: await EmailJob.find({ 'to.email': email, template: /^newsletter-/ })
      .sort({ _id: 1 })
      .select({ template: 1, status: 1, createdAt: 1, _id: 0 })
      .lean(),
    gifts: [],
  };
}

/** Collections that still hold the address somewhere. */
async function holding(email: string) {
  const found: string[] = [];
  for (const { name } of await app.deps.db.db!.listCollections().toArray()) {
    const docs = await raw(name).find().toArray();
    if (docs.some((d) => JSON.stringify(d).includes(email))) found.push(name);
  }
  return found.sort();
}

const byPrimaryKey = (filter: unknown) => {
  if (!filter || typeof filter !== 'object') return false;
  const keys = Object.keys(filter);
  if (keys.length !== 1 || keys[0] !== '_id') return false;
  const id = (filter as { _id: unknown })._id;
  if (id instanceof Types.ObjectId || typeof id !== 'object' || id === null) return true;
  const ops = Object.keys(id);
  return ops.length === 1 && ops[0] === '$in' && Array.isArray((id as { $in: unknown }).$in);
};
const scans = () =>
  filters.filter(
    ({ method, filter }) => !method.startsWith('insert') && method !== 'createIndex' && !byPrimaryKey(filter),
  );
const json = (value: unknown) => JSON.parse(JSON.stringify(value));

describe('reader data by primary key', () => {
  it('when an admin looks a reader up, the reader downloads their data and both are erased, then every filter sent is by _id', async () => {
    const dataLink = await activeReader('whole@example.com');
    await legacyReader('legacy@example.com');
    expect(await backfillReaderRecords(app.deps.db)).toBeGreaterThan(0);
    const expected = {
      whole: await scanned('whole@example.com'),
      legacy: await scanned('legacy@example.com'),
    };
    expect(expected.whole.consents.map((c) => c.action)).toEqual([
      'opt_in_requested',
      'opt_in_requested',
      'confirmed',
      'confirmed',
      'unsubscribed',
    ]);

    filters.length = 0;
    recording = true;
    const lookup = async (email: string) =>
      fetch(`${app.url}/admin/newsletters/readers/${email}`, { headers: admin }).then((r) => r.json());
    const whole = await lookup('whole@example.com');
    const legacy = await lookup('legacy@example.com');
    const download = await fetch(local(dataLink.toString())).then((r) => r.json());
    const erased = await fetch(`${app.url}/admin/newsletters/readers/legacy@example.com`, {
      method: 'DELETE',
      headers: admin,
    });
    const ownErasure = await postForm(`/newsletters/my-data/delete${dataLink.search}`, {});
    recording = false;

    expect(filters.length).toBeGreaterThan(20);
    expect(scans()).toEqual([]);
    expect(whole).toEqual(json(expected.whole));
    expect(download).toEqual(json(expected.whole));
    expect(legacy).toEqual(json(expected.legacy));
    expect(legacy.subscriptions).toHaveLength(1);
    expect(legacy.emails).toHaveLength(1);
    expect([erased.status, ownErasure.status]).toEqual([204, 200]);
  });

  it('when readers are erased, then nothing holds their address but the records the privacy page keeps', async () => {
    // The readers of the test above: a member (kept: members, ledger, their pending member mail).
    expect(await holding('whole@example.com')).toEqual(
      expect.not.arrayContaining([
        'newsletter_subscriptions',
        'newsletter_consents',
        'newsletter_tokens',
        'email_events',
        'claims',
      ]),
    );
    const left = await raw('email_jobs').find({ 'to.email': 'whole@example.com' }).toArray();
    expect(left.filter((j) => String(j.template).startsWith('newsletter-'))).toEqual([]);
    expect(await holding('legacy@example.com')).toEqual([]);
    expect(await raw('address_records').countDocuments()).toBeGreaterThan(0); // the member's mail on its way
    const again = await fetch(`${app.url}/admin/newsletters/readers/legacy@example.com`, { headers: admin });
    expect(await again.json()).toEqual({
      email: 'legacy@example.com',
      subscriptions: [],
      consents: [],
      emails: [],
      gifts: [],
    });
  });

  it('when a reader buys a gift for another, then both exports show it by primary key, and it outlasts an erasure', async () => {
    // A gift from before gifts were listed, which the migration lists.
    await raw('gifts').insertOne({
      _id: new Types.ObjectId(),
      status: 'redeemed',
      purchaser: { name: 'Old', email: 'old-giver@example.com' },
      recipient: { name: 'Oksana', email: 'giver@example.com' },
      message: 'From before the lists',
      showPurchaserName: false,
      durationMonths: 6,
      amount: 3000,
      currency: 'eur',
      createdAt: new Date('2021-05-01'),
    });
    expect(await backfillGiftAddresses(app.deps.db)).toBe(1);
    const bought = await fetch(`${app.url}/gifts/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        purchaserName: 'Olena',
        purchaserEmail: 'giver@example.com',
        recipientName: 'Taras',
        recipientEmail: 'first-recipient@example.com',
        message: 'Happy birthday!',
        durationMonths: 12,
        currency: 'eur',
        deliverOn: '2026-12-24',
      }),
    });
    expect(bought.status).toBe(201);
    const { giftId } = (await bought.json()) as { giftId: string };
    // The purchaser corrects the recipient's address before delivery: the new address sees it.
    await updateGiftBeforeDelivery(giftDepsFrom(app.deps.config, app.deps), giftId, {
      recipientEmail: 'recipient@example.com',
      deliverOn: '2026-12-24',
    });

    filters.length = 0;
    recording = true;
    const lookup = async (email: string) =>
      (await fetch(`${app.url}/admin/newsletters/readers/${email}`, { headers: admin }).then((r) =>
        r.json(),
      )) as { gifts: Record<string, unknown>[] };
    const giver = await lookup('giver@example.com');
    const recipient = await lookup('recipient@example.com');
    const former = await lookup('first-recipient@example.com');
    recording = false;
    expect(scans()).toEqual([]);
    expect(giver.gifts).toEqual([
      expect.objectContaining({ role: 'recipient', status: 'redeemed', from: null, durationMonths: 6 }),
      expect.objectContaining({
        role: 'purchaser',
        status: 'pending_payment',
        amount: expect.any(Number),
        recipient: { name: 'Taras', email: 'recipient@example.com' },
      }),
    ]);
    expect(recipient.gifts).toEqual([
      expect.objectContaining({ role: 'recipient', from: 'Olena', message: 'Happy birthday!' }),
    ]);
    expect(JSON.stringify(recipient)).not.toContain('giver@example.com');
    expect(former.gifts).toEqual([]);

    const erased = await fetch(`${app.url}/admin/newsletters/readers/giver@example.com`, {
      method: 'DELETE',
      headers: admin,
    });
    expect(erased.status).toBe(204);
    expect((await lookup('giver@example.com')).gifts).toHaveLength(2);
  });

  it('when a write died after listing its record and before writing it, then export and erasure skip the listed id', async () => {
    const email = 'crashed@example.com';
    expect((await signUp(email, ['editors-picks'])).status).toBe(202);
    await listAtAddress(app.deps.db, email, [
      { kind: 'consent', ref: String(new Types.ObjectId()) },
      { kind: 'email-job', ref: String(new Types.ObjectId()) },
      { kind: 'subscription', ref: 'never-written' },
      { kind: 'sync-job', ref: String(new Types.ObjectId()) },
    ]);
    const url = `${app.url}/admin/newsletters/readers/${email}`;
    const exported = (await fetch(url, { headers: admin }).then((r) => r.json())) as {
      subscriptions: unknown[];
      consents: unknown[];
    };
    expect(exported).toEqual(json(await scanned(email)));
    expect([exported.subscriptions.length, exported.consents.length]).toEqual([1, 1]);
    expect((await fetch(url, { method: 'DELETE', headers: admin })).status).toBe(204);
    expect(await holding(email)).toEqual([]);
  });
});
