import { Types } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { sweepGifts } from '../../src/gifts/gift.service.js';
import { backfillGiftMemberEnds, createGiftMember } from '../../src/memberships/gift-membership.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';
import { giftTestDeps } from './gift-fixtures.js';

// The hourly sweep finds gift members whose time is ending from memberships' list of their ends,
// never by searching the members: on FerretDB any filter but `{_id}` decodes every member, each hour.

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const clock = manualClock(new Date('2026-12-01T10:00:00Z'));
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));

const DAY = 86_400_000;
const deps = () => giftTestDeps(db, clock);
let n = 0;
async function giftMember(months: number) {
  const memberId = new Types.ObjectId();
  const email = `ending${++n}@example.com`;
  await createGiftMember(deps(), {
    memberId,
    email,
    name: 'Taras',
    locale: 'en',
    giftId: `g${n}`,
    months,
    at: clock.now(),
  });
  return { memberId, email };
}
const member = (id: Types.ObjectId) => membershipModels(db).Member.findById(id).lean();
const endingEmails = (email: string) =>
  emailModels(db).EmailJob.countDocuments({ template: 'gift-ending', 'to.email': email });

/** Runs the sweep, returning what it asked of `members` with any filter but exactly `{_id}`. */
async function sweepRecordingMemberScans() {
  const scans: string[] = [];
  db.set('debug', (collection: string, method: string, filter: unknown) => {
    const keys = filter && typeof filter === 'object' ? Object.keys(filter) : [];
    if (collection === 'members' && (keys.length !== 1 || keys[0] !== '_id'))
      scans.push(`${method} ${JSON.stringify(filter)}`);
  });
  try {
    await sweepGifts(deps());
  } finally {
    db.set('debug', false);
  }
  return scans;
}

it('when gift members near and pass the end of their gift time, then the sweep emails and expires each once, reading members only by _id', async () => {
  const short = await giftMember(1);
  const long = await giftMember(12);
  const ends = (await member(short.memberId))!.currentPeriodEnd!;
  const scans: string[] = [];
  for (const at of [
    ends.getTime() - 10 * DAY,
    ends.getTime() - 3 * DAY,
    ends.getTime() - 2 * DAY,
    ends.getTime() + DAY,
  ]) {
    clock.set(new Date(at));
    scans.push(...(await sweepRecordingMemberScans()));
  }
  expect(await endingEmails(short.email)).toBe(1);
  expect(await member(short.memberId)).toMatchObject({ status: 'expired', endedAt: ends });
  expect(await endingEmails(long.email)).toBe(0);
  expect(await member(long.memberId)).toMatchObject({ status: 'active' });
  expect(scans).toEqual([]);
  // The next round takes it off the list: the rounds after it read nothing of it.
  clock.set(new Date(ends.getTime() + 2 * DAY));
  expect(await sweepRecordingMemberScans()).toEqual([]);
  expect(await membershipModels(db).GiftMemberEnd.exists({ _id: String(short.memberId) })).toBeNull();
});

it('when gift members were made before the list was kept, then the migration lists the active ones and the sweep finds them', async () => {
  clock.set(new Date('2027-06-01T10:00:00Z'));
  const before = await giftMember(1);
  const expired = await giftMember(1);
  await membershipModels(db).Member.updateOne({ _id: expired.memberId }, { $set: { status: 'expired' } });
  await membershipModels(db).GiftMemberEnd.deleteMany({});
  expect(await backfillGiftMemberEnds(db)).toBe(2); // the active one, and the 12-month one above
  clock.set(new Date(clock.now().getTime() + 28 * DAY));
  await sweepGifts(deps());
  expect(await endingEmails(before.email)).toBe(1);
  expect(await endingEmails(expired.email)).toBe(0);
});
