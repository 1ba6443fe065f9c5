import type { Connection } from 'mongoose';
import { type Checkpoint, type LogLeaf, leafId, transparencyModels } from './log.model.js';
import { changeOf } from './log.service.js';

// The count now, from what is signed: the latest checkpoint's count as its note states it, plus the
// change of each leaf after it (by kind and amount, as a verifier recomputes it). The running
// `total` stored on a leaf is not trusted here: a database writer who edits it would otherwise move
// what /progress and the widget show (issue 29), while every checkpoint, recounted from the leaves,
// stays right. Each process sums the leaves after the checkpoint once, by primary key, and then only
// the ones appended since. Reads of one log wait for each other: a burst of first reads (a fresh
// process, a new checkpoint) would otherwise each sum the whole tail, readers × leaves reads; in
// line, the first sums it and each one after reads only the leaves appended since.

interface Tail {
  /** The checkpoint the sum starts at (its note hash), and its size. */
  anchor: string;
  from: number;
  /** `counts[k]`: the count over the first `from + k` leaves (a number per leaf since the checkpoint). */
  counts: number[];
}

const tails = new WeakMap<Connection, Map<string, Tail>>();
/** Per database and campaign, the last read in line: the next one starts when it has settled. */
const queues = new WeakMap<Connection, Map<string, Promise<unknown>>>();

function inLine<T>(db: Connection, campaignId: string, read: () => Promise<T>): Promise<T> {
  const perDb = queues.get(db) ?? new Map<string, Promise<unknown>>();
  queues.set(db, perDb);
  const turn = (perDb.get(campaignId) ?? Promise.resolve()).then(read);
  const settled = turn.catch(() => {});
  perDb.set(campaignId, settled);
  void settled.then(() => {
    if (perDb.get(campaignId) === settled) perDb.delete(campaignId);
  });
  return turn;
}

/** The count a checkpoint's signed note states (its `count:` line). */
export function signedCount(checkpoint: Pick<Checkpoint, 'note'>): number {
  const match = /\ncount: (-?\d+)\n/.exec(checkpoint.note);
  if (!match) throw new Error('a stored checkpoint note has no count line');
  return Number(match[1]);
}

/**
 * The count over the log's first `size` leaves: `latest`'s signed count and the leaves after it.
 * Undefined when the log is shorter than the checkpoint (a restored backup): the caller falls back.
 */
export function countSince(
  db: Connection,
  campaignId: string,
  latest: Pick<Checkpoint, 'note' | 'hash' | 'treeSize'>,
  size: number,
): Promise<number | undefined> {
  if (size < latest.treeSize) return Promise.resolve(undefined);
  return inLine(db, campaignId, () => sumTail(db, campaignId, latest, size));
}

async function sumTail(
  db: Connection,
  campaignId: string,
  latest: Pick<Checkpoint, 'note' | 'hash' | 'treeSize'>,
  size: number,
): Promise<number | undefined> {
  const perDb = tails.get(db) ?? new Map<string, Tail>();
  tails.set(db, perDb);
  let tail = perDb.get(campaignId);
  if (!tail || tail.anchor !== latest.hash)
    tail = { anchor: latest.hash, from: latest.treeSize, counts: [signedCount(latest)] };
  perDb.set(campaignId, tail);
  // A reader whose size was read before others appended is answered from the counts kept. The counts
  // past its size are dropped and read again when asked for: after a restore the log may have lost
  // those leaves, and the ones appended in their place can differ.
  const known = tail.counts[size - tail.from];
  if (known !== undefined) {
    tail.counts.length = size - tail.from + 1;
    return known;
  }
  // Reads of one log are in line, so the counts grow in place: each prefix summed is right as kept.
  const { counts } = tail;
  for (let index = tail.from + counts.length - 1; index < size; index++) {
    const leaf = await transparencyModels(db).Leaf.findById(leafId(campaignId, index)).lean<LogLeaf>();
    if (!leaf) return undefined;
    counts.push(counts.at(-1)! + changeOf(leaf));
  }
  return counts.at(-1)!;
}
