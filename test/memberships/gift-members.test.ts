import { Types } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expireGiftMember, hasLiveSubscription } from '../../src/memberships/gift-membership.js';
import { listMemberSubscription } from '../../src/memberships/member-keys.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

// What the hourly gift sweep asks memberships about each gift member: whether a paid subscription
// has taken over, and to expire the membership. Both by primary key: on FerretDB any other filter
// decodes every subscription or member, once per gift member per hour.

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));

const at = new Date('2026-12-01T10:00:00Z');
let n = 0;
async function giftMember(status: 'active' | 'canceled') {
  const { Member } = membershipModels(db);
  const _id = new Types.ObjectId();
  await Member.create({
    _id,
    email: `gift${++n}@example.com`,
    status,
    source: 'gift',
    joinedAt: at,
    joinedVia: 'gift:test',
  });
  return _id;
}
async function subscriptionOf(memberId: Types.ObjectId, status: string) {
  const _id = `sub_gift_${++n}`;
  await membershipModels(db).Subscription.create({
    _id,
    memberId,
    customerId: `cus_gift_${n}`,
    status,
    plan: 'supporter',
    amount: 500,
    currency: 'eur',
    interval: 'month',
    cancelAtPeriodEnd: false,
    lastEventCreated: 1,
    lastEventId: `evt_${n}`,
  });
  await listMemberSubscription(db, memberId, _id);
}
/** Runs `work`, returning every filter it sent that is not exactly `{_id: value}`. */
async function scansOf(work: () => Promise<unknown>) {
  const scans: string[] = [];
  db.set('debug', (collection: string, method: string, filter: unknown) => {
    const keys = filter && typeof filter === 'object' ? Object.keys(filter) : [];
    if (!method.startsWith('insert') && (keys.length !== 1 || keys[0] !== '_id'))
      scans.push(`${collection}.${method} ${JSON.stringify(filter)}`);
  });
  try {
    await work();
  } finally {
    db.set('debug', false);
  }
  return scans;
}

it('when a gift member pays through a trialing or active subscription, then it is live; canceled or past due ones are not; and nothing is searched', async () => {
  const trialing = await giftMember('active');
  await subscriptionOf(trialing, 'canceled');
  await subscriptionOf(trialing, 'trialing');
  const lapsed = await giftMember('active');
  await subscriptionOf(lapsed, 'canceled');
  await subscriptionOf(lapsed, 'past_due');
  const none = await giftMember('active');
  const answers: boolean[] = [];
  const scans = await scansOf(async () => {
    for (const id of [trialing, lapsed, none]) answers.push(await hasLiveSubscription(db, id));
  });
  expect(answers).toEqual([true, false, false]);
  expect(scans).toEqual([]);
});

it('when a gift member is expired, then an active one becomes expired with its end, one canceled meanwhile stays canceled, and nothing is searched', async () => {
  const active = await giftMember('active');
  const canceled = await giftMember('canceled');
  const end = new Date('2026-12-05T00:00:00Z');
  const scans = await scansOf(async () => {
    await expireGiftMember(db, { _id: active }, end);
    await expireGiftMember(db, { _id: canceled }, end);
  });
  const { Member } = membershipModels(db);
  expect(await Member.findById(active).lean()).toMatchObject({ status: 'expired', endedAt: end });
  const kept = await Member.findById(canceled).lean();
  expect(kept).toMatchObject({ status: 'canceled' });
  expect(kept?.endedAt).toBeUndefined();
  expect(scans).toEqual([]);
});
