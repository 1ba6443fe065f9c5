import { type Connection, Schema } from 'mongoose';
import { isDuplicateKey } from './db.js';

// An exact count that is read without scanning and kept without $inc (FerretDB loses concurrent
// $incs, and counting matching documents decodes the whole collection there).
//
// A tally is a dense run of numbered marks, `<tally>:1` … `<tally>:N`; each names the record it
// counts, under a unique index, so a record is counted once however often it is added. The count
// is N, the end of the run, found by primary-key probes: one or two when this process has seen the
// tally before, about 2·log2(N) from cold.
//
// The run stays dense because a mark is only ever inserted right after one known to exist, and the
// insert of a unique `_id` is atomic on every backend: whoever loses position n moves on to n + 1.

interface TallyMark {
  _id: string; // `<tally>:<n>`
  record: string; // `<tally>|<record id>`: unique, so one record is one mark
  at: Date;
}

const tallyMarkSchema = new Schema<TallyMark>(
  { _id: String, record: { type: String, required: true, unique: true }, at: { type: Date, required: true } },
  { versionKey: false },
);

export function registerTallyModel(db: Connection): void {
  if (!db.models.TallyMark) db.model('TallyMark', tallyMarkSchema, 'tally_marks');
}

const marks = (db: Connection) => db.model<TallyMark>('TallyMark');
const markId = (tally: string, n: number) => `${tally}:${n}`;

/** The highest position this process has seen filled, per database and tally: only a hint. */
const seen = new WeakMap<Connection, Map<string, number>>();
function hints(db: Connection): Map<string, number> {
  const map = seen.get(db) ?? new Map<string, number>();
  seen.set(db, map);
  return map;
}

async function filled(db: Connection, tally: string, n: number): Promise<boolean> {
  return n === 0 || (await marks(db).exists({ _id: markId(tally, n) })) !== null;
}

/** N: the end of the tally's run, searched from the hint. */
export async function tallyCount(db: Connection, tally: string): Promise<number> {
  const end = await denseEnd((n) => filled(db, tally, n), hints(db).get(tally) ?? 0);
  hints(db).set(tally, end);
  return end;
}

/**
 * The end of a dense run of positions 1 … N (`filled(n)` says whether n is taken; position 0 always
 * is), searched from a hint: two probes when the hint is right, about 2·log2(N) from cold.
 */
export async function denseEnd(filledAt: (n: number) => Promise<boolean>, hint: number): Promise<number> {
  let low = hint;
  if (low > 0 && !(await filledAt(low))) low = 0; // the run was emptied (tests, a restored backup)
  if (!(await filledAt(low + 1))) return low;
  low += 1; // known filled: never probed again
  // Gallop forward to a position past the end, then halve the gap.
  let step = 1;
  let high = low + 1;
  while (await filledAt(high)) {
    low = high;
    step *= 2;
    high = low + step;
  }
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (await filledAt(middle)) low = middle;
    else high = middle;
  }
  return low;
}

/**
 * Adds within one process wait for each other per tally: 500 racing for the same next position
 * would each lose hundreds of times; in line, each add is one insert. Processes still race each
 * other, which the unique `_id` settles.
 */
const queues = new WeakMap<Connection, Map<string, Promise<void>>>();
function inLine(db: Connection, tally: string, add: () => Promise<void>): Promise<void> {
  const perDb = queues.get(db) ?? new Map<string, Promise<void>>();
  queues.set(db, perDb);
  const turn = (perDb.get(tally) ?? Promise.resolve()).then(add);
  const settled = turn.catch(() => {});
  perDb.set(tally, settled);
  void settled.then(() => {
    if (perDb.get(tally) === settled) perDb.delete(tally);
  });
  return turn;
}

/** Counts `record` in `tally`, once: adding a record already counted changes nothing. */
export function tallyAdd(db: Connection, tally: string, record: string, at: Date): Promise<void> {
  return inLine(db, tally, () => addMark(db, tally, `${tally}|${record}`, at));
}

async function addMark(db: Connection, tally: string, key: string, at: Date): Promise<void> {
  for (let n = (await tallyCount(db, tally)) + 1; ; n++) {
    try {
      await marks(db).create({ _id: markId(tally, n), record: key, at });
      hints(db).set(tally, n);
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const taken = await marks(db).findById(markId(tally, n)).lean<TallyMark>();
      // Position n is free, so the unique record index refused the mark: already counted.
      if (!taken || taken.record === key) return;
      hints(db).set(tally, n);
    }
  }
}

const BATCH = 500;

/**
 * Counts many records at once (an import's members), in batches of consecutive marks inserted in
 * order: the insert stops at the first mark refused, so the run stays dense, and that one is added
 * alone (its position was taken by another process, or its record was already counted).
 */
export function tallyAddMany(db: Connection, tally: string, records: string[], at: Date): Promise<void> {
  return inLine(db, tally, async () => {
    let i = 0;
    while (i < records.length) {
      const n = await tallyCount(db, tally);
      const batch = records
        .slice(i, i + BATCH)
        .map((record, j) => ({ _id: markId(tally, n + 1 + j), record: `${tally}|${record}`, at }));
      try {
        await marks(db).collection.insertMany(batch as never[], { ordered: true });
        hints(db).set(tally, n + batch.length);
        i += batch.length;
      } catch (error) {
        const refused = firstRefused(error);
        if (refused === undefined) throw error;
        hints(db).set(tally, n + refused);
        await addMark(db, tally, batch[refused]!.record, at);
        i += refused + 1;
      }
    }
  });
}

/** The index of the first mark an ordered insert refused as a duplicate, if that is what failed. */
function firstRefused(error: unknown): number | undefined {
  const raw = (error as { writeErrors?: unknown }).writeErrors;
  const [first] = (Array.isArray(raw) ? raw : raw ? [raw] : []) as {
    index: number;
    code?: number;
    err?: { code?: number };
  }[];
  return first && (first.code ?? first.err?.code) === 11000 ? first.index : undefined;
}
