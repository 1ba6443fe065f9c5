import { createHash } from 'node:crypto';
import { Types } from 'mongoose';

// The bulk write primitives of imports and of memberships' writes of imported members. On
// FerretDB the only atomic operation is an insert with a unique `_id`, and only `{_id}` lookups
// avoid a scan; so each imported record's `_id` is its natural key, written by an unordered bulk
// insert in which a duplicate means "already there". A second run then changes nothing, and a run
// stopped anywhere is finished by the next one.

interface Insertable {
  insertMany(docs: object[], options: { ordered: false }): Promise<unknown>;
}

/** Inserts `docs`; returns the indexes of those that were new. Any error but a duplicate key throws. */
export async function insertUnique(collection: Insertable, docs: object[]): Promise<Set<number>> {
  const all = new Set(docs.map((_, i) => i));
  if (docs.length === 0) return all;
  try {
    await collection.insertMany(docs, { ordered: false });
    return all;
  } catch (error) {
    const raw = (error as { writeErrors?: unknown }).writeErrors;
    const writeErrors = (Array.isArray(raw) ? raw : raw ? [raw] : []) as {
      index: number;
      code?: number;
      err?: { code?: number };
    }[];
    if (writeErrors.length === 0 || writeErrors.some((e) => (e.code ?? e.err?.code) !== 11000)) throw error;
    for (const e of writeErrors) all.delete(e.index);
    return all;
  }
}

/**
 * The ObjectId an imported record always gets for its natural key (an SHA-256 prefix): records
 * whose schema keeps ObjectId `_id`s (members, consent records) still insert idempotently.
 */
export const stableObjectId = (key: string) =>
  new Types.ObjectId(createHash('sha256').update(key).digest('hex').slice(0, 24));

/** `task` over `items`, at most `limit` at once (primary-key lookups that would otherwise queue). */
export async function mapLimit<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await task(items[i]!);
      }
    }),
  );
  return results;
}
