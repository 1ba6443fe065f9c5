import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOnce } from '../../src/infra/migrations.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

// Every process runs the start-up migrations; processes starting together must all start.

let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

it('when ten processes run the same migration at once, then every one finishes and it is marked done once', async () => {
  for (let round = 0; round < 5; round++) {
    let ran = 0;
    const step = async () => {
      ran++;
      await new Promise((r) => setTimeout(r, 5));
      return 1;
    };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => runOnce(db, `race-${round}`, step)),
    );
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect(ran).toBeGreaterThan(0);
    expect(await db.collection('migrations').countDocuments({ _id: `race-${round}` as never })).toBe(1);
    // Once marked, a later start does not run it again.
    expect(await runOnce(db, `race-${round}`, step)).toBeUndefined();
  }
});
