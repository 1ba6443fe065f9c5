import type { Connection } from 'mongoose';
import { afterAll, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { prepareSupportersTotal, supportersTotal } from '../../src/memberships/supporters.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

let db: Connection;
const memberQueries: string[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
  db.set('debug', (collection: string, method: string) => {
    if (collection === 'members') memberQueries.push(method);
  });
});
beforeEach(async () => {
  await membershipModels(db).Member.deleteMany({});
  await membershipModels(db).SupporterTotal.deleteMany({});
  await db.collection('claims').deleteMany({});
  memberQueries.length = 0;
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

const join = (n: number, status = 'active') =>
  membershipModels(db).Member.insertMany(
    Array.from({ length: n }, () => ({
      email: `s${Math.random().toString(36).slice(2)}@example.com`,
      status,
      source: 'checkout',
      joinedAt: new Date(),
      joinedVia: 'cs_test',
    })),
  );

const seconds = (start: Date, n: number) => new Date(start.getTime() + n * 1000);
const counts = () => memberQueries.filter((q) => q === 'countDocuments').length;

it('when the total was never counted but there are members, then a read says "not known" instead of 0 and counts nothing itself; the background recount follows', async () => {
  const start = new Date('2026-11-20T10:00:00Z');
  await join(5);
  memberQueries.length = 0;
  expect(await supportersTotal(db, start)).toBeUndefined();
  await expect.poll(() => supportersTotal(db, seconds(start, 1)), { timeout: 5_000 }).toBe(5);
  expect(counts()).toBe(1);
});

it("when another process creates the total between this one's count and its write, then this one updates it instead of failing to start", async () => {
  const start = new Date('2026-11-20T10:00:00Z');
  await join(3);
  const model = membershipModels(db).SupporterTotal;
  // An upsert is a find then an insert on FerretDB: two servers starting at once both insert, and
  // the loser gets a duplicate key (seen in CI as a server that failed to start).
  const spy = vi
    .spyOn(model, 'updateOne')
    .mockImplementationOnce((() =>
      Promise.reject(Object.assign(new Error('E11000'), { code: 11000 }))) as never);
  try {
    expect(await prepareSupportersTotal(db, start)).toBe(3);
  } finally {
    spy.mockRestore();
  }
  expect(await supportersTotal(db, start)).toBe(3);
});

it('when a process prepares the total before answering, then the first read has it', async () => {
  const start = new Date('2026-11-20T10:00:00Z');
  await join(4);
  await join(2, 'canceled');
  expect(await prepareSupportersTotal(db, start)).toBe(4);
  memberQueries.length = 0;
  expect(await supportersTotal(db, start)).toBe(4);
  expect(memberQueries).toEqual([]); // read by _id, no member counted
  // Up to date: preparing again counts nothing.
  expect(await prepareSupportersTotal(db, seconds(start, 5))).toBe(4);
  expect(counts()).toBe(0);
});

it('when members join or leave, then the total follows within one recount, and however many reads ask, members are counted once per change', async () => {
  const start = new Date('2026-11-20T10:00:00Z');
  await join(3);
  await prepareSupportersTotal(db, start);
  memberQueries.length = 0;
  // Nothing changed: reads within five minutes never count.
  for (let s = 1; s <= 200; s += 20) expect(await supportersTotal(db, seconds(start, s))).toBe(3);
  expect(counts()).toBe(0);

  await join(4);
  const later = seconds(start, 240);
  const reads = await Promise.all(Array.from({ length: 20 }, () => supportersTotal(db, later)));
  expect(new Set(reads)).toEqual(new Set([3])); // the stored total, while the recount runs behind
  await expect.poll(() => supportersTotal(db, later), { timeout: 5_000 }).toBe(7);
  expect(counts()).toBe(1);

  // A member leaves (an update, as a cancellation is): the next window's read recounts.
  const [member] = await membershipModels(db).Member.find({ status: 'active' }).limit(1).lean();
  await membershipModels(db).Member.updateOne({ _id: member!._id }, { $set: { status: 'canceled' } });
  const leftAt = seconds(start, 260);
  await supportersTotal(db, leftAt);
  await expect.poll(() => supportersTotal(db, leftAt), { timeout: 5_000 }).toBe(6);
  expect(counts()).toBe(2);
});

it('when many readers become members at once before the total was ever counted, then every member is written and the total follows', async () => {
  const { Member } = membershipModels(db);
  await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      Member.create({
        email: `racer${i}@example.com`,
        status: 'active',
        source: 'checkout',
        joinedAt: new Date(),
        joinedVia: `cs_race_${i}`,
      }),
    ),
  );
  expect(await Member.countDocuments()).toBe(30);
  const at = new Date('2026-11-20T11:00:00Z');
  await supportersTotal(db, at);
  await expect.poll(() => supportersTotal(db, at), { timeout: 5_000 }).toBe(30);
});
