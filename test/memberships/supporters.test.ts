import fc from 'fast-check';
import { type Connection, Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, expect, it, onTestFinished, vi } from 'vitest';
import { membershipModels } from '../../src/memberships/membership.model.js';
import {
  auditSupporters,
  prepareSupportersTotal,
  supportersTotal,
} from '../../src/memberships/supporters.js';
import { deep } from '../support/depth.js';
import { joinMembers, memberRow } from '../support/supporters.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

let db: Connection;
const queries: { collection: string; method: string; filter: unknown }[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
  db.set('debug', (collection: string, method: string, filter: unknown) => {
    queries.push({ collection, method, filter });
  });
});
beforeEach(async () => {
  for (const name of ['members', 'supporter_totals', 'supporter_transitions', 'tally_marks', 'claims'])
    await db.collection(name).deleteMany({});
  queries.length = 0;
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

const join = (n: number, status = 'active') => joinMembers(db, n, status);
/** Written around the models, as a process that died before its reconcile leaves it. */
const joinAround = (n: number) =>
  db
    .collection('members')
    .insertMany(Array.from({ length: n }, () => ({ _id: new Types.ObjectId(), ...memberRow('active') })));
const activeCount = () => membershipModels(db).Member.countDocuments({ status: 'active' });
const at = new Date('2026-11-20T10:00:00Z');
/** A logger whose warnings the test reads. */
const watchingLogger = () => {
  const logger = { warn: vi.fn(), info() {}, error() {}, debug() {}, child: () => logger };
  return logger;
};
const quietLogger = watchingLogger() as never;

it('when the total was never reconciled but there are members, then a read says "not known" instead of 0, and the pass it starts brings the total', async () => {
  await joinAround(5);
  expect(await supportersTotal(db, at)).toBeUndefined();
  await expect.poll(() => supportersTotal(db, at), { timeout: 5_000 }).toBe(5);
});

it('when a database has no member at all, then the total is 0 at once', async () => {
  expect(await supportersTotal(db, at)).toBe(0);
});

it('when a process prepares the total, then reads never touch members and only look documents up by _id', async () => {
  await join(4);
  await join(2, 'canceled');
  expect(await prepareSupportersTotal(db, at)).toBe(4);
  queries.length = 0;
  for (let i = 0; i < 5; i++) expect(await supportersTotal(db, at)).toBe(4);
  expect(queries.filter((q) => q.collection === 'members')).toEqual([]);
  for (const q of queries) expect(Object.keys(q.filter as object)).toEqual(['_id']);
});

it('when members join, leave and come back, then the total is right as soon as each write returns', async () => {
  await prepareSupportersTotal(db, at);
  const [a, b] = await join(2);
  expect(await supportersTotal(db, at)).toBe(2);
  const { Member } = membershipModels(db);
  await Member.updateOne({ _id: a!._id }, { $set: { status: 'past_due' } });
  expect(await supportersTotal(db, at)).toBe(1);
  await Member.updateOne({ _id: a!._id }, { $set: { status: 'active' } });
  await Member.updateOne({ _id: b!._id }, { $set: { currentPeriodEnd: new Date() } }); // not a status
  expect(await supportersTotal(db, at)).toBe(2);
  await Member.deleteMany({ _id: b!._id });
  expect(await supportersTotal(db, at)).toBe(1);
});

it('when a write went around the models, then the daily audit finds the difference, says so, and repairs the total', async () => {
  await join(3);
  await prepareSupportersTotal(db, at);
  await joinAround(2);
  expect(await supportersTotal(db, at)).toBe(3);
  const logger = watchingLogger();
  await auditSupporters(db, at, logger as never);
  expect(logger.warn).toHaveBeenCalledWith(
    { counted: 5, tallied: 3, behind: 2 },
    expect.stringContaining('reconciling'),
  );
  expect(await supportersTotal(db, at)).toBe(5);
  // Nothing differs now: the audit is quiet.
  logger.warn.mockClear();
  await auditSupporters(db, at, logger as never);
  expect(logger.warn).not.toHaveBeenCalled();
});

it('when a process dies between claiming a transition and counting it, then the next reconcile of that member counts it', async () => {
  await prepareSupportersTotal(db, at);
  const marks = db.model('TallyMark');
  const dies = vi.spyOn(marks, 'create').mockRejectedValueOnce(new Error('process killed'));
  onTestFinished(() => dies.mockRestore());
  await expect(join(1)).rejects.toThrow('process killed');
  expect(await supportersTotal(db, at)).toBe(0); // claimed, not counted
  await auditSupporters(db, at, quietLogger);
  expect(await supportersTotal(db, at)).toBe(1);
});

// The guarantee: whatever order writes of the same members land in, and however many run at once,
// the maintained total equals a count of active members when the writes have returned; a write
// that skipped its reconcile (a process killed between the two) is repaired by the audit.
const STATUSES = ['active', 'past_due', 'paused', 'canceled', 'expired'] as const;
const write = fc.record({
  member: fc.integer({ min: 0, max: 2 }),
  // Half of all writes make a member active, so that two writes of one member often disagree.
  status: fc.oneof(fc.constant('active'), fc.constantFrom(...STATUSES)),
  startsAfter: fc.integer({ min: 0, max: 12 }), // ms
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A reconcile that has read the member waits a while before claiming, as a busy process may. */
function slowClaims() {
  const transitions = db.model('SupporterTransition');
  const create = transitions.create.bind(transitions);
  return vi.spyOn(transitions, 'create').mockImplementation((async (...args: unknown[]) => {
    await sleep(Math.floor(Math.random() * 40));
    return (create as (...a: unknown[]) => unknown)(...args);
  }) as never);
}

it('when writes of a few members run in any order and at once, then the total equals a count after each; writes killed before their reconcile are repaired by the audit', async () => {
  const claims = slowClaims();
  onTestFinished(() => claims.mockRestore());
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(write, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
      fc.array(write, { maxLength: 3 }),
      async (batches, killed) => {
        for (const name of ['members', 'supporter_totals', 'supporter_transitions', 'tally_marks'])
          await db.collection(name).deleteMany({});
        const { Member } = membershipModels(db);
        const ids = (await join(3, 'canceled')).map((m) => m._id);
        await prepareSupportersTotal(db, at);
        for (const batch of batches) {
          await Promise.all(
            batch.map(async (w) => {
              await sleep(w.startsAfter);
              await Member.updateOne({ _id: ids[w.member] }, { $set: { status: w.status } });
            }),
          );
          expect(await supportersTotal(db, at)).toBe(await activeCount());
        }
        // A process killed between its write and its reconcile: the write is all that remains.
        for (const w of killed)
          await db.collection('members').updateOne({ _id: ids[w.member] }, { $set: { status: w.status } });
        await auditSupporters(db, at, quietLogger);
        expect(await supportersTotal(db, at)).toBe(await activeCount());
      },
    ),
    { numRuns: deep(25) },
  );
});
