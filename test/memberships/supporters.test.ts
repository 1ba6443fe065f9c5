import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { supportersTotal } from '../../src/memberships/supporters.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

let db: Connection;
const memberQueries: string[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
  db.set('debug', (collection: string, method: string) => {
    if (collection === 'members') memberQueries.push(method);
  });
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

const minutes = (start: Date, n: number) => new Date(start.getTime() + n * 60_000);

it('when the supporters total is read on every view, then members are counted at most once per five minutes, and the total follows', async () => {
  const start = new Date('2026-11-20T10:00:00Z');
  await join(3);
  await join(2, 'canceled');
  expect(await supportersTotal(db, start)).toBe(3);

  await join(4);
  memberQueries.length = 0;
  for (let m = 1; m <= 4; m++) expect(await supportersTotal(db, minutes(start, m))).toBe(3);
  expect(memberQueries).toEqual([]); // read by _id from the snapshot, no member was counted

  // Older than five minutes: this answer is still the snapshot, and one recount starts behind it.
  expect(await supportersTotal(db, minutes(start, 6))).toBe(3);
  await expect.poll(() => supportersTotal(db, minutes(start, 6)), { timeout: 5_000 }).toBe(7);
  expect(memberQueries.filter((q) => q === 'countDocuments')).toHaveLength(1);
});
