import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

// Every per-request and per-event path is a primary-key lookup, which is only fast if the server
// answers it from the `_id` index. Stock FerretDB 1.24.2 does not (its query spells the column
// differently from its own index, so SQLite scans); scripts/install-test-services.sh builds it with
// the one-line fix. This fails if the suite ever runs on a server whose `_id` lookups scan again.

let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
  await db
    .collection('id_index_probe')
    .insertMany(Array.from({ length: 200 }, (_, i) => ({ _id: `doc:${i}` as unknown as never, n: i })));
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

type Explained = {
  queryPlanner?: { Plan?: string[]; winningPlan?: unknown };
};

it('when a document is looked up by _id, then the server answers from the _id index, not a scan', async () => {
  const explained = (await db
    .collection('id_index_probe')
    .find({ _id: 'doc:123' as unknown as never })
    .explain()) as Explained;
  const sqlitePlan = explained.queryPlanner?.Plan;
  if (sqlitePlan) {
    // FerretDB/SQLite: the plan is SQLite's own EXPLAIN QUERY PLAN.
    const plan = sqlitePlan.join('\n');
    expect(plan).toMatch(/SEARCH .* USING INDEX/);
    expect(plan).not.toMatch(/detail=SCAN/);
  } else {
    // MongoDB: an _id lookup is an index read, never a collection scan.
    expect(JSON.stringify(explained.queryPlanner?.winningPlan)).not.toContain('COLLSCAN');
  }
});
