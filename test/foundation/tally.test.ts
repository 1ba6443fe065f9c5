import fc from 'fast-check';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectDatabase } from '../../src/infra/db.js';
import { tallyAdd, tallyAddMany, tallyCount } from '../../src/infra/tally.js';
import { registerModels } from '../../src/models.js';
import { deep } from '../support/depth.js';
import { createTestDatabase, databaseUri, releaseTestDatabase } from '../support/test-app.js';

// A tally is an exact count kept by unique inserts alone (FerretDB loses concurrent $incs) and read
// by a few primary-key probes (counting documents scans there).

let db: Connection;
let otherProcess: Connection; // a second connection has hints of its own, as another process would
beforeAll(async () => {
  db = await createTestDatabase();
  otherProcess = await secondConnection();
});
afterAll(async () => {
  await otherProcess.close();
  await releaseTestDatabase(db);
});

async function secondConnection(): Promise<Connection> {
  const connection = await connectDatabase({ uri: databaseUri(db.name), poolSize: 10, timeoutMs: 10_000 });
  registerModels(connection);
  return connection;
}

let tallies = 0;

it('when records are added in any order, concurrently, from two processes and with repeats, then the count is the number of distinct records', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.boolean()), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 1, max: 12 }),
      async (adds, concurrency) => {
        const tally = `prop-${++tallies}`;
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < adds.length) {
              const [record, fromOther] = adds[next++]!;
              await tallyAdd(fromOther ? otherProcess : db, tally, `r${record}`, new Date());
            }
          }),
        );
        const distinct = new Set(adds.map(([record]) => record)).size;
        expect(await tallyCount(db, tally)).toBe(distinct);
        expect(await tallyCount(otherProcess, tally)).toBe(distinct);
      },
    ),
    { numRuns: deep(25) },
  );
});

it('when records are added many at once (an import) beside single adds, from two processes, with repeats inside and across, then the count is the number of distinct records', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          records: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }),
          fromOther: fc.boolean(),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      async (adds) => {
        const tally = `many-${++tallies}`;
        await Promise.all(
          adds.map(({ records, fromOther }) => {
            const process = fromOther ? otherProcess : db;
            const names = records.map((r) => `r${r}`);
            return names.length === 1
              ? tallyAdd(process, tally, names[0]!, new Date())
              : tallyAddMany(process, tally, names, new Date());
          }),
        );
        const distinct = new Set(adds.flatMap(({ records }) => records)).size;
        expect(await tallyCount(db, tally)).toBe(distinct);
        expect(await tallyCount(otherProcess, tally)).toBe(distinct);
      },
    ),
    { numRuns: deep(25) },
  );
});

it('when a process that never saw the tally reads it, then it finds the count in a few lookups, not one per record', async () => {
  const tally = 'cold-read';
  for (let i = 0; i < 300; i++) await tallyAdd(db, tally, `r${i}`, new Date());
  const cold = await secondConnection();
  const lookups: unknown[] = [];
  cold.set('debug', (collection: string, _method: string, filter: unknown) => {
    if (collection === 'tally_marks') lookups.push(filter);
  });
  expect(await tallyCount(cold, tally)).toBe(300);
  expect(lookups.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(300)) + 2);
  lookups.length = 0;
  expect(await tallyCount(cold, tally)).toBe(300);
  expect(lookups.length).toBeLessThanOrEqual(2); // warm: the hint and the position after it
  await cold.close();
});

it('when a tally is emptied (a test, a restored backup), then the count follows instead of trusting the hint', async () => {
  const tally = 'emptied';
  for (let i = 0; i < 5; i++) await tallyAdd(db, tally, `r${i}`, new Date());
  expect(await tallyCount(db, tally)).toBe(5);
  await db.collection('tally_marks').deleteMany({ _id: { $regex: '^emptied:' } } as never);
  expect(await tallyCount(db, tally)).toBe(0);
  await tallyAdd(db, tally, 'again', new Date());
  expect(await tallyCount(db, tally)).toBe(1);
});
