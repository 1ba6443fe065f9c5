import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { emailModels } from '../../src/email/email.model.js';
import { importMembersFile } from '../../src/imports/import.service.js';
import { importSubscribersFile } from '../../src/imports/subscribers.import.js';
import { findMemberByCustomer, findMemberByEmail } from '../../src/memberships/member-keys.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { supportersTotal } from '../../src/memberships/supporters.js';
import { newsletterModels } from '../../src/newsletters/newsletter.model.js';
import { staffToken } from '../support/staff.js';
import { checkoutSession, postEvent, purchase, stripeEvent } from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { fixture, importDeps, snapshot } from './import-support.js';

let app: TestApp;
let campaign: Campaign;
let deps: ReturnType<typeof importDeps>;
let jobsBefore: number;

beforeAll(async () => {
  app = await startTestApp();
  deps = importDeps(app.deps.db, app.deps.clock);
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'birthday',
      title: '1,000 new members for our birthday',
      goal: 1000,
      startsAt: new Date('2026-11-01T00:00:00Z'),
      endsAt: new Date('2026-12-01T00:00:00Z'),
      timeZone: 'Europe/Kyiv',
      startingOffset: 0,
    })
  ).toObject();
  // A reader who joined through our own checkout during the drive, and is also in the old files.
  const p = purchase({ email: 'existing.member@example.org' });
  expect(
    (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p)))).status,
  ).toBe(200);
  expect(await countOf(app.deps.db, campaign)).toBe(1);
  jobsBefore = await emailModels(app.deps.db).EmailJob.countDocuments();
});
afterAll(() => app.close());

describe('members files', () => {
  it("when Ghost's members export is imported, then paying and complimentary members are imported supporters findable by email and customer, and every bad row is reported with why", async () => {
    const summary = await importMembersFile(deps, fixture('ghost-members.csv'));
    expect(summary).toMatchObject({ format: 'ghost', rows: 9, created: 3, existing: 1 });
    expect(summary.rejected).toEqual([
      { line: 5, email: 'free.reader@example.org', reason: expect.stringMatching(/free member/) },
      { line: 6, email: 'not-an-email', reason: 'invalid email address "not-an-email"' },
      { line: 7, email: 'oksana.kovalenko@example.org', reason: 'duplicate of line 2' },
      { line: 8, email: 'formula@example.org', reason: 'the name looks like a spreadsheet formula' },
      { line: 9, email: 'gone@example.org', reason: 'deleted in Ghost' },
    ]);

    const oksana = await findMemberByCustomer(app.deps.db, 'cus_GhostOk1');
    expect(oksana).toMatchObject({
      email: 'oksana.kovalenko@example.org',
      name: 'Oksana Kovalenko',
      source: 'imported',
      status: 'active',
      joinedAt: new Date('2021-03-14T09:26:53.000Z'),
      labels: ['founding', 'kyiv'],
    });
    expect(await findMemberByEmail(app.deps.db, 'marko.petrenko@example.org')).toMatchObject({
      stripeCustomerId: 'cus_GhostMp2',
      source: 'imported',
    });
    expect(await findMemberByEmail(app.deps.db, 'staff.writer@example.org')).toMatchObject({
      source: 'imported',
      status: 'active',
    });
    // The reader who joined through checkout stays exactly as they were.
    expect(await findMemberByEmail(app.deps.db, 'existing.member@example.org')).toMatchObject({
      source: 'checkout',
    });
    expect(await findMemberByEmail(app.deps.db, 'free.reader@example.org')).toBeNull();
  });

  it('when the plain format is imported, then plans become subscriptions with their amounts, and an unknown plan or an unreadable date is refused', async () => {
    const summary = await importMembersFile(deps, fixture('members-plain.csv'));
    expect(summary).toMatchObject({ format: 'plain', rows: 8, created: 5, existing: 0 });
    expect(summary.rejected.map((r) => [r.line, r.reason])).toEqual([
      [5, 'unknown plan "platinum"'],
      [6, 'unreadable join date'],
      [9, 'invalid email address "@sum(1+1)@example.com"'],
    ]);
    const lesya = (await findMemberByEmail(app.deps.db, 'lesya.ukrainka@example.com'))!;
    const subscription = await membershipModels(app.deps.db)
      .Subscription.findOne({ memberId: lesya._id })
      .lean();
    expect(subscription).toMatchObject({
      plan: 'patron',
      amount: 15000,
      currency: 'eur',
      interval: 'year',
      status: 'external',
      source: 'imported',
    });
    // No amount given: the tier's price.
    const taras = (await findMemberByCustomer(app.deps.db, 'cus_PlainTs1'))!;
    expect(
      await membershipModels(app.deps.db).Subscription.findOne({ memberId: taras._id }).lean(),
    ).toMatchObject({ plan: 'supporter', amount: 500, currency: 'eur', interval: 'month' });
    expect(await findMemberByEmail(app.deps.db, 'old.friend@example.com')).toMatchObject({
      status: 'canceled',
    });
  });

  it('when members are imported, then they are supporters (the total and the report filtered by source) but the drive does not count them', async () => {
    const { Member } = membershipModels(app.deps.db);
    expect(await countOf(app.deps.db, campaign)).toBe(1);
    const active = await Member.countDocuments({ status: 'active' });
    expect(active).toBe(1 + 3 + 3); // checkout + Ghost + plain (one past due, one canceled)
    // Each import ends by counting the total, so it is already right.
    expect(await supportersTotal(app.deps.db, app.deps.clock.now())).toBe(active);

    const finance = await staffToken(app.url, app.deps.db, 'finance');
    const res = await fetch(`${app.url}/reports/supporters?source=imported&limit=100`, {
      headers: { authorization: finance.authorization },
    });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { email: string; source: string; plan: string }[] };
    expect(items.map((i) => i.email).sort()).toEqual(
      [
        'oksana.kovalenko@example.org',
        'marko.petrenko@example.org',
        'staff.writer@example.org',
        'taras.shevchuk@example.com',
        'lesya.ukrainka@example.com',
        'ivan.franko@example.com',
        'old.friend@example.com',
        '+cmd@example.com',
      ].sort(),
    );
    expect(items.every((i) => i.source === 'imported')).toBe(true);
    expect(items.find((i) => i.email === 'lesya.ukrainka@example.com')?.plan).toBe('patron');
  });
});

describe('newsletter subscribers files', () => {
  it("when Mailchimp's subscribed, unsubscribed and cleaned files are imported, then subscriptions keep their state, consent keeps Mailchimp's times and IPs marked imported, and leavers are suppressed", async () => {
    const subscribed = await importSubscribersFile(
      deps,
      fixture('mailchimp-subscribed.csv'),
      'editors-picks',
    );
    expect(subscribed).toMatchObject({ format: 'mailchimp', rows: 6, created: 2, existing: 0 });
    expect(subscribed.rejected.map((r) => [r.line, r.reason])).toEqual([
      [4, 'invalid email address "yulia, the reader@example.net"'],
      [5, 'duplicate of line 2'],
      [6, 'invalid email address "@import@example.net"'],
      [7, 'invalid email address "bad-email@"'],
    ]);
    const unsubscribed = await importSubscribersFile(
      deps,
      fixture('mailchimp-unsubscribed.csv'),
      'editors-picks',
    );
    expect(unsubscribed).toMatchObject({ rows: 2, created: 2, rejected: [] });
    const cleaned = await importSubscribersFile(deps, fixture('mailchimp-cleaned.csv'), 'editors-picks');
    expect(cleaned).toMatchObject({ rows: 1, created: 1, rejected: [] });

    const { Subscription, Consent } = newsletterModels(app.deps.db);
    expect(await Subscription.findById('editors-picks:sofia.bondar@example.net').lean()).toMatchObject({
      status: 'confirmed',
      name: 'Sofia Bondar',
      requestedAt: new Date('2021-04-12T08:15:02Z'),
      confirmedAt: new Date('2021-04-12T08:17:45Z'),
    });
    expect(await Subscription.findById('editors-picks:left.reader@example.net').lean()).toMatchObject({
      status: 'unsubscribed',
      unsubscribedAt: new Date('2023-06-30T21:14:09Z'),
    });
    const consents = await Consent.find({ email: 'sofia.bondar@example.net' }).sort({ at: 1 }).lean();
    expect(
      consents.map(({ action, at, ip, imported, list }) => ({ action, at, ip, imported, list })),
    ).toEqual([
      {
        action: 'opt_in_requested',
        at: new Date('2021-04-12T08:15:02Z'),
        ip: '203.0.113.10',
        imported: true,
        list: 'editors-picks',
      },
      {
        action: 'confirmed',
        at: new Date('2021-04-12T08:17:45Z'),
        ip: '203.0.113.10',
        imported: true,
        list: 'editors-picks',
      },
    ]);
    expect(
      (await Consent.find({ email: 'left.reader@example.net' }).lean()).map((c) => c.action).sort(),
    ).toEqual(['confirmed', 'opt_in_requested', 'unsubscribed']);

    const { Suppression } = emailModels(app.deps.db);
    expect(await Suppression.findById('left.reader@example.net').lean()).toMatchObject({
      reason: 'unsubscribe',
      suppressedAt: new Date('2023-06-30T21:14:09Z'),
    });
    expect(await Suppression.findById('bounced.box@example.net').lean()).toMatchObject({ reason: 'bounce' });
    expect(await Suppression.findById('sofia.bondar@example.net').lean()).toBeNull();
  });

  it("when listmonk's export is imported, then enabled readers are confirmed, blocklisted ones suppressed, and an unknown status refused", async () => {
    const summary = await importSubscribersFile(deps, fixture('listmonk-subscribers.csv'), 'daily');
    expect(summary).toMatchObject({ format: 'listmonk', rows: 4, created: 3 });
    expect(summary.rejected).toEqual([
      { line: 5, email: 'weird@example.io', reason: 'unknown listmonk status "zombie"' },
    ]);
    const { Subscription } = newsletterModels(app.deps.db);
    expect(await Subscription.findById('daily:natalia@example.io').lean()).toMatchObject({
      status: 'confirmed',
      locale: 'uk',
      confirmedAt: new Date('2022-03-04T10:11:12.474Z'),
    });
    expect(await Subscription.findById('daily:blocked@example.io').lean()).toMatchObject({
      status: 'unsubscribed',
    });
    const { Suppression } = emailModels(app.deps.db);
    expect(await Suppression.findById('blocked@example.io').lean()).toMatchObject({ reason: 'unsubscribe' });
    expect(await Suppression.findById('paused@example.io').lean()).toBeNull();
  });

  it('when the list is synced to SendGrid Marketing, then each confirmed reader is queued to be added there, once, and leavers are not', async () => {
    await importSubscribersFile(deps, fixture('mailchimp-subscribed.csv'), 'synced');
    await importSubscribersFile(deps, fixture('mailchimp-unsubscribed.csv'), 'synced');
    await importSubscribersFile(deps, fixture('mailchimp-subscribed.csv'), 'synced');
    const jobs = await app.deps.db.collection('marketing_sync_jobs').find().sort({ email: 1 }).toArray();
    expect(jobs.map(({ email, listId, action, status }) => ({ email, listId, action, status }))).toEqual([
      { email: 'andrii.melnyk@example.net', listId: 'sg-list-1', action: 'add', status: 'pending' },
      { email: 'sofia.bondar@example.net', listId: 'sg-list-1', action: 'add', status: 'pending' },
    ]);
    await app.deps.db.collection('newsletter_subscriptions').deleteMany({ list: 'synced' });
  });

  it('when a list is not one of ours, then the import refuses before reading a row', async () => {
    await expect(importSubscribersFile(deps, fixture('listmonk-subscribers.csv'), 'nope')).rejects.toThrow(
      /unknown newsletter list/,
    );
    await expect(importMembersFile(deps, fixture('listmonk-subscribers.csv'))).rejects.toThrow(
      /not a members file/,
    );
  });
});

describe('every import', () => {
  it('when everything was imported, then nobody was emailed and the drive still counts only the reader who joined through checkout', async () => {
    expect(await emailModels(app.deps.db).EmailJob.countDocuments()).toBe(jobsBefore);
    expect(await countOf(app.deps.db, campaign)).toBe(1);
  });

  it('when every file is imported a second time, then nothing changes', async () => {
    const before = await snapshot(app.deps.db);
    const again = [
      await importMembersFile(deps, fixture('ghost-members.csv')),
      await importMembersFile(deps, fixture('members-plain.csv')),
      await importSubscribersFile(deps, fixture('mailchimp-subscribed.csv'), 'editors-picks'),
      await importSubscribersFile(deps, fixture('mailchimp-unsubscribed.csv'), 'editors-picks'),
      await importSubscribersFile(deps, fixture('mailchimp-cleaned.csv'), 'editors-picks'),
      await importSubscribersFile(deps, fixture('listmonk-subscribers.csv'), 'daily'),
    ];
    expect(again.map((s) => s.created)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await snapshot(app.deps.db)).toEqual(before);
  });

  it('when a dry run reads a new file, then it reports what would change and writes nothing', async () => {
    await app.deps.db.collection('newsletter_subscriptions').deleteMany({ list: 'explaining-ukraine' });
    const before = await snapshot(app.deps.db);
    const summary = await importSubscribersFile(
      deps,
      fixture('mailchimp-subscribed.csv'),
      'explaining-ukraine',
      {
        dryRun: true,
      },
    );
    expect(summary).toMatchObject({ dryRun: true, created: 2, existing: 0 });
    expect(summary.rejected).toHaveLength(4);
    const members = await importMembersFile(deps, fixture('ghost-members.csv'), { dryRun: true });
    expect(members).toMatchObject({ created: 0, existing: 4 });
    expect(await snapshot(app.deps.db)).toEqual(before);
  });
});
