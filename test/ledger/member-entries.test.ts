import fc from 'fast-check';
import { type Connection, Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import {
  backfillMemberEntries,
  ledgerEntriesOf,
  listMemberEntries,
  listMemberEntry,
} from '../../src/ledger/member-entries.js';
import { deep } from '../support/depth.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

// A member's ledger entries are found by primary key (src/ledger/member-entries.ts): each entry is
// listed under its member in append-only slots. Whatever order, race or rerun lists them, the
// member page must show each of the member's entries once, newest first, and nobody else's.

let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));
beforeEach(async () => {
  await Promise.all(['ledger', 'member_entries'].map((c) => db.collection(c).deleteMany({})));
});

const day = (n: number) => new Date(Date.UTC(2026, 10, 1 + n));
/** Ledger entries written as the ledger stores them (only what the lists read matters here). */
async function writeEntries(entries: { _id: string; memberId?: Types.ObjectId; occurredAt: Date }[]) {
  if (entries.length === 0) return;
  await ledgerModel(db).collection.insertMany(
    entries.map((e) => ({ kind: 'subscription_payment', amount: 500, currency: 'eur', ...e })) as never[],
  );
}
const slots = () => db.collection('member_entries').find().sort({ _id: 1 }).toArray();
const idsOf = async (memberId: Types.ObjectId, limit = 100) =>
  (await ledgerEntriesOf(db, memberId, limit)).map((e) => e._id);

describe("a member's ledger entries", () => {
  it('when entries are listed one by one, then the member sees their own, newest first, up to the limit', async () => {
    const oksana = new Types.ObjectId();
    const taras = new Types.ObjectId();
    const entries = [
      { _id: 'pay_1', memberId: oksana, occurredAt: day(1) },
      { _id: 'pay_3', memberId: oksana, occurredAt: day(3) },
      { _id: 'pay_2', memberId: oksana, occurredAt: day(2) },
      { _id: 'pay_t', memberId: taras, occurredAt: day(4) },
    ];
    await writeEntries(entries);
    for (const e of entries) await listMemberEntry(db, e.memberId, e._id);
    // Listed again (a retried event): nothing new is written.
    await listMemberEntry(db, oksana, 'pay_2');

    expect(await idsOf(oksana)).toEqual(['pay_3', 'pay_2', 'pay_1']);
    expect(await idsOf(oksana, 2)).toEqual(['pay_3', 'pay_2']);
    expect(await idsOf(taras)).toEqual(['pay_t']);
    expect(await slots()).toEqual([
      { _id: `${oksana}#0`, entryIds: ['pay_1'] },
      { _id: `${oksana}#1`, entryIds: ['pay_3'] },
      { _id: `${oksana}#2`, entryIds: ['pay_2'] },
      { _id: `${taras}#0`, entryIds: ['pay_t'] },
    ]);
  });

  it('when a listed entry was never written (a crash between the two) or names another member, then it is skipped', async () => {
    const oksana = new Types.ObjectId();
    const taras = new Types.ObjectId();
    await writeEntries([
      { _id: 'pay_1', memberId: oksana, occurredAt: day(1) },
      { _id: 'pay_t', memberId: taras, occurredAt: day(2) },
    ]);
    await listMemberEntry(db, oksana, 'pay_1');
    await listMemberEntry(db, oksana, 'pay_lost');
    await listMemberEntry(db, oksana, 'pay_t');
    expect(await idsOf(oksana)).toEqual(['pay_1']);
  });

  it('when any number of writers list entries of the same members at once, then every entry is listed once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 7 })), {
          minLength: 1,
          maxLength: 12,
        }),
        async (listings) => {
          await Promise.all(['ledger', 'member_entries'].map((c) => db.collection(c).deleteMany({})));
          const members = [0, 1, 2].map(() => new Types.ObjectId());
          const entryOf = (m: number, e: number) => ({
            _id: `pay_${m}_${e}`,
            memberId: members[m]!,
            occurredAt: day(e),
          });
          const wanted = new Map(listings.map(([m, e]) => [`pay_${m}_${e}`, entryOf(m, e)]));
          await writeEntries([...wanted.values()]);
          // Every listing at once, each twice: the retried write races the first.
          await Promise.all(
            [...listings, ...listings].map(([m, e]) => listMemberEntry(db, members[m]!, `pay_${m}_${e}`)),
          );
          for (const [m, member] of members.entries()) {
            const expected = [...wanted.values()]
              .filter((e) => e.memberId === member)
              .sort((a, b) => b.occurredAt.getTime() - a.occurredAt.getTime())
              .map((e) => e._id);
            expect(await idsOf(member), `member ${m}`).toEqual(expected);
          }
        },
      ),
      { numRuns: deep(8) },
    );
  });

  it('when a batch is listed at once beside single listings, and again after a crash, then each member sees each entry once', async () => {
    const oksana = new Types.ObjectId();
    const taras = new Types.ObjectId();
    const batch = [
      { _id: 'imp_1', memberId: oksana, occurredAt: day(1) },
      { _id: 'imp_2', memberId: oksana, occurredAt: day(2) },
      { _id: 'imp_t', memberId: taras, occurredAt: day(3) },
    ];
    await writeEntries([...batch, { _id: 'pay_9', memberId: oksana, occurredAt: day(9) }]);
    await listMemberEntry(db, oksana, 'pay_9'); // oksana's #0 is taken: the batch goes to #1
    await listMemberEntries(db, [...batch, { _id: 'no_member' }, batch[0]!]);
    await listMemberEntries(db, batch); // the rerun
    expect(await idsOf(oksana)).toEqual(['pay_9', 'imp_2', 'imp_1']);
    expect(await idsOf(taras)).toEqual(['imp_t']);
    expect((await slots()).map((s) => s._id)).toEqual([
      `${oksana}#0`,
      `${oksana}#1`,
      `${oksana}#2`,
      `${taras}#0`,
      `${taras}#1`,
    ]);
    expect((await slots())[1]).toEqual({ _id: `${oksana}#1`, entryIds: ['imp_1', 'imp_2'] });
  });

  it('when entries were recorded before the lists were kept, then the backfill lists every one with a member, in batches', async () => {
    const members = [0, 1, 2].map(() => new Types.ObjectId());
    const entries = Array.from({ length: 501 }, (_, i) => ({
      _id: `old_${String(i).padStart(4, '0')}`,
      memberId: members[i % 3],
      occurredAt: new Date(day(0).getTime() + i * 1000),
    }));
    await writeEntries([...entries, { _id: 'anonymous', occurredAt: day(5) }]);
    expect(await backfillMemberEntries(db)).toBe(501);
    for (const [m, member] of members.entries()) {
      const theirs = entries.filter((_, i) => i % 3 === m).reverse();
      expect(await idsOf(member, 1000), `member ${m}`).toEqual(theirs.map((e) => e._id));
    }
  });
});
