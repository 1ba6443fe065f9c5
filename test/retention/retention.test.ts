import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { backfillReaderRecords, deleteReaderData } from '../../src/retention/reader-data.service.js';
import { DEFAULT_RETENTION, sweepExpiredRecords } from '../../src/retention/retention.service.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

let db: Connection;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
const now = clock.now().getTime();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(now - ms);

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await releaseTestDatabase(db);
});
beforeEach(async () => {
  for (const c of await db.db!.listCollections().toArray()) await db.db!.collection(c.name).deleteMany({});
});

const raw = (name: string) => db.db!.collection(name);

describe('retention sweep', () => {
  it('when it runs, then no temporary record older than its period remains, and nothing younger or permanent is touched', async () => {
    const shortClaims = [
      'rate:10.0.0.1:123:0',
      'sign-in-email:reader@example.com:99',
      'sign-in-used:abc',
      'newsletter-confirmation:reader@example.com:99',
      'staff-refresh:def',
      'gift-resend:g1:5',
    ];
    await raw('claims').insertMany([
      ...shortClaims.map((id) => ({ _id: `${id}:old` as never, claimedAt: ago(DAY + HOUR) })),
      ...shortClaims.map((id) => ({ _id: `${id}:new` as never, claimedAt: ago(DAY - HOUR) })),
      { _id: 'newsletter-confirmed:old' as never, claimedAt: ago(7 * DAY + HOUR) },
      { _id: 'newsletter-confirmed:new' as never, claimedAt: ago(7 * DAY - HOUR) },
      // Decisions that must hold forever: a gift is delivered once and redeemed once.
      { _id: 'gift-redeem:g1' as never, claimedAt: ago(400 * DAY) },
      { _id: 'gift-deliver:g1' as never, claimedAt: ago(400 * DAY) },
    ]);
    await raw('job_leases').insertMany([
      { _id: 'lease:email:a:0' as never, holder: 'w', expiresAt: ago(DAY + HOUR) },
      { _id: 'lease:email:b:0' as never, holder: 'w', expiresAt: ago(HOUR) },
    ]);
    for (const name of ['sign_in_tokens', 'newsletter_tokens', 'staff_refresh_tokens']) {
      await raw(name).insertMany([
        { _id: `${name}-old` as never, expiresAt: ago(DAY + HOUR) },
        { _id: `${name}-new` as never, expiresAt: ago(HOUR) },
      ]);
    }
    const job = (status: string, age: number, key: string) => ({
      idempotencyKey: key,
      status,
      to: { email: `${key}@example.com` },
      nextAttemptAt: ago(age),
      updatedAt: ago(age),
    });
    await raw('email_jobs').insertMany([
      job('sent', 30 * DAY + HOUR, 'sent-old'),
      job('sent', 30 * DAY - HOUR, 'sent-new'),
      job('suppressed', 30 * DAY + HOUR, 'suppressed-old'),
      job('failed', 90 * DAY + HOUR, 'failed-old'),
      job('failed', 90 * DAY - HOUR, 'failed-new'),
      job('pending', 200 * DAY, 'pending-old'), // not sent yet: never swept
    ]);
    await raw('email_events').insertMany([
      { _id: 'ev-old' as never, email: 'x@example.com', receivedAt: ago(30 * DAY + HOUR) },
      { _id: 'ev-new' as never, email: 'x@example.com', receivedAt: ago(30 * DAY - HOUR) },
    ]);
    await raw('marketing_sync_jobs').insertMany([
      { key: 'done-old', status: 'done', updatedAt: ago(30 * DAY + HOUR) },
      { key: 'done-new', status: 'done', updatedAt: ago(30 * DAY - HOUR) },
      { key: 'pending-old', status: 'pending', updatedAt: ago(60 * DAY) },
    ]);

    const deleted = await sweepExpiredRecords({ db, clock, logger: createLogger({ level: 'silent' }) });

    const ids = async (name: string, field = '_id') =>
      (await raw(name).find().toArray()).map((d) => String(d[field])).sort();
    expect(await ids('claims')).toEqual(
      [
        ...shortClaims.map((id) => `${id}:new`),
        'newsletter-confirmed:new',
        'gift-redeem:g1',
        'gift-deliver:g1',
      ].sort(),
    );
    expect(await ids('job_leases')).toEqual(['lease:email:b:0']);
    for (const name of ['sign_in_tokens', 'newsletter_tokens', 'staff_refresh_tokens'])
      expect(await ids(name)).toEqual([`${name}-new`]);
    expect(await ids('email_jobs', 'idempotencyKey')).toEqual(['failed-new', 'pending-old', 'sent-new']);
    expect(await ids('email_events')).toEqual(['ev-new']);
    expect(await ids('marketing_sync_jobs', 'key')).toEqual(['done-new', 'pending-old']);
    expect(deleted).toMatchObject({
      claims: 6,
      confirmationClaims: 1,
      leases: 1,
      sentEmails: 2,
      failedEmails: 1,
    });
    expect(DEFAULT_RETENTION.shortClaimsMs).toBe(DAY);
  });
});

describe('reader data deletion', () => {
  it('when a reader deletes their data, then no record holds the address except those the README lists', async () => {
    const email = 'reader@example.com';
    const memberId = new Types.ObjectId();
    await raw('newsletter_subscriptions').insertOne({
      _id: `editors-picks:${email}` as never,
      email,
      list: 'editors-picks',
    });
    await raw('newsletter_consents').insertOne({
      email,
      list: 'editors-picks',
      action: 'confirmed',
      at: ago(DAY),
    });
    await raw('newsletter_tokens').insertOne({
      _id: 'tokenhash' as never,
      email,
      lists: [],
      expiresAt: ago(-DAY),
    });
    await raw('claims').insertMany([
      { _id: `sign-in-email:${email}:123` as never, claimedAt: ago(HOUR) },
      { _id: `newsletter-confirmation:${email}:456` as never, claimedAt: ago(HOUR) },
    ]);
    const emailJob = (template: string, status: string) => ({
      idempotencyKey: `${template}:${status}`,
      template,
      status,
      to: { email },
      data: {},
    });
    await raw('email_jobs').insertMany([
      emailJob('newsletter-confirmation', 'sent'),
      emailJob('newsletter-welcome', 'pending'),
      emailJob('member-welcome', 'sent'),
      emailJob('account-sign-in', 'failed'),
      emailJob('contribution-receipt', 'pending'), // on its way: kept until sent
    ]);
    await raw('email_events').insertOne({
      _id: 'sg-1' as never,
      email,
      event: 'delivered',
      receivedAt: ago(HOUR),
    });
    await raw('marketing_sync_jobs').insertMany([
      { key: 'add', email, status: 'done' },
      { key: 'remove', email, status: 'pending' }, // takes them off the SendGrid list: kept until done
    ]);
    await raw('email_suppressions').insertOne({
      _id: email as never,
      reason: 'unsubscribe',
      suppressedAt: ago(DAY),
    });
    await raw('members').insertOne({ _id: memberId, email, status: 'active' });
    await raw('ledger').insertOne({ _id: 'in_1' as never, email, amount: 500 });

    // Written around the models, as data from before the address lists were kept: the migration lists it.
    await backfillReaderRecords(db);
    await deleteReaderData(db, email, clock.now());

    const holding: string[] = [];
    for (const { name } of await db.db!.listCollections().toArray()) {
      const docs = await raw(name).find().toArray();
      if (docs.some((d) => JSON.stringify(d).includes(email))) holding.push(name);
    }
    // README, "Reader data": what stays and why.
    expect(holding.sort()).toEqual(
      ['email_jobs', 'email_suppressions', 'ledger', 'marketing_sync_jobs', 'members'].sort(),
    );
    expect((await raw('email_jobs').find({ 'to.email': email }).toArray()).map((j) => j.template)).toEqual([
      'contribution-receipt',
    ]);
    expect((await raw('marketing_sync_jobs').find({ email }).toArray()).map((j) => j.key)).toEqual([
      'remove',
    ]);
  });
});
