import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { inject } from 'vitest';
import { connectDatabase, ensureIndexes } from '../../src/infra/db.js';
import { registerModels } from '../../src/models.js';

// Each test worker reuses its own databases instead of building a fresh one (42 collections and
// their indexes) for every file: a database is emptied when it is handed out, and rebuilt only when
// its collections or indexes are not exactly what the models declare (a test dropped one, or the
// models changed since a kept server last saw them). Files of one worker run one after another, and
// the databases' names carry the worker's pool id, so no two files ever hold the same database.
// Measured on FerretDB: building one takes ~170 ms, emptying and checking one ~50 ms.

/** The suite's database server, addressed to one database (for processes a test spawns). */
export function databaseUri(name: string): string {
  const uri = new URL(inject('mongoUri'));
  uri.pathname = `/${name}`;
  return uri.toString();
}

/** The slots this file holds now: a second database asked for while one is held is another one. */
const heldSlots = new Map<Connection, number>();

/** The worker's pool id (1…maxWorkers); absent outside vitest's pool, where every database is new. */
const poolId = process.env.VITEST_POOL_ID;

/**
 * An empty database of this test's own on the suite's server, with every model registered and
 * every index built. Nothing another file or another holder wrote is in it. Give it back with
 * releaseTestDatabase (dropping it also works, at the cost of a rebuild next time).
 */
export async function createTestDatabase(): Promise<Connection> {
  let slot = 0;
  while ([...heldSlots.values()].includes(slot)) slot++;
  const name = poolId ? `w${poolId}_${slot}` : `t_${randomBytes(6).toString('hex')}`;
  const db = await connectDatabase({ uri: databaseUri(name), poolSize: 10, timeoutMs: 10_000 });
  registerModels(db);
  heldSlots.set(db, slot);
  try {
    await makeEmpty(db);
  } catch (error) {
    await releaseTestDatabase(db);
    throw error;
  }
  return db;
}

/** Closes a database from createTestDatabase; the next file of this worker gets it back, emptied. */
export async function releaseTestDatabase(db: Connection): Promise<void> {
  if (!heldSlots.delete(db)) return;
  if (!poolId) await db.dropDatabase().catch(() => {});
  await db.close();
}

/** Gives back every database this file still holds (test/support/each-file.ts); returns how many. */
export async function releaseHeldDatabases(): Promise<number> {
  const left = [...heldSlots.keys()];
  await Promise.all(left.map((db) => releaseTestDatabase(db)));
  return left.length;
}

/**
 * What a build left in each database, kept in a database of its own: a test that empties every
 * collection of its database (some do) must not wipe it too.
 */
const markers = (db: Connection) =>
  db
    .useDb('test_schemas', { useCache: true })
    .collection<{ _id: string; models: string; schema: string }>('markers');

/**
 * Empties every collection if the database holds exactly what a build from these models left
 * (recorded at build time), else drops it and builds it again.
 */
async function makeEmpty(db: Connection): Promise<void> {
  const models = modelsDigest(db);
  const [marker, found] = await Promise.all([markers(db).findOne({ _id: db.name }), currentSchema(db)]);
  let why = marker ? 'schema changed' : 'new';
  if (marker?.models === models && marker.schema === found.schema) {
    try {
      await Promise.all(found.collections.map((name) => db.collection(name).deleteMany({})));
      if (process.env.TEST_DB_DEBUG) console.error(`[db] ${db.name} emptied`);
      return;
    } catch {
      // FerretDB (SQLite) deletes a whole collection by listing every document in one statement,
      // and refuses past SQLite's 32,766 variables ("too many SQL variables"): a file that left
      // that many documents (the fuzz test's rate-limit slots) is cleared by a rebuild instead.
      why = 'too many documents to empty';
    }
  }
  if (process.env.TEST_DB_DEBUG) console.error(`[db] ${db.name} built (${why})`);
  await db.dropDatabase();
  await ensureIndexes(db);
  const built = await currentSchema(db);
  await markers(db).replaceOne({ _id: db.name }, { models, schema: built.schema }, { upsert: true });
}

/** The models' collections and declared indexes: a change to them means a rebuild. */
const modelsDigest = (db: Connection) =>
  createHash('sha256')
    .update(
      JSON.stringify(
        Object.values(db.models)
          .map((m) => [m.collection.collectionName, m.schema.indexes()])
          .sort(),
      ),
    )
    .digest('hex');

async function currentSchema(db: Connection): Promise<{ schema: string; collections: string[] }> {
  const collections = (await db.db!.listCollections({}, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .sort();
  const indexes = await Promise.all(
    collections.map(async (name) =>
      (await db.collection(name).listIndexes().toArray())
        .map(({ key, unique, sparse, partialFilterExpression, expireAfterSeconds }) =>
          JSON.stringify({ key, unique, sparse, partialFilterExpression, expireAfterSeconds }),
        )
        .sort(),
    ),
  );
  const schema = createHash('sha256').update(JSON.stringify({ collections, indexes })).digest('hex');
  return { schema, collections };
}
