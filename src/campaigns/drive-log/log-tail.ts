import type { Connection } from 'mongoose';
import { type Checkpoint, type LogLeaf, leafId, transparencyModels } from './log.model.js';
import { changeOf } from './log.service.js';

// The count now, from what is signed: the latest checkpoint's count as its note states it, plus the
// change of each leaf after it (by kind and amount, as a verifier recomputes it). The running
// `total` stored on a leaf is not trusted here: a database writer who edits it would otherwise move
// what /progress and the widget show (issue 29), while every checkpoint, recounted from the leaves,
// stays right. Each process sums the leaves after the checkpoint once, by primary key, and then only
// the ones appended since.

interface Tail {
  /** The checkpoint the sum starts at (its note hash) and the leaves summed so far. */
  anchor: string;
  size: number;
  count: number;
}

const tails = new WeakMap<Connection, Map<string, Tail>>();

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
export async function countSince(
  db: Connection,
  campaignId: string,
  latest: Pick<Checkpoint, 'note' | 'hash' | 'treeSize'>,
  size: number,
): Promise<number | undefined> {
  if (size < latest.treeSize) return undefined;
  const perDb = tails.get(db) ?? new Map<string, Tail>();
  tails.set(db, perDb);
  let tail = perDb.get(campaignId);
  if (!tail || tail.anchor !== latest.hash || tail.size > size)
    tail = { anchor: latest.hash, size: latest.treeSize, count: signedCount(latest) };
  let { count } = tail;
  for (let index = tail.size; index < size; index++) {
    const leaf = await transparencyModels(db).Leaf.findById(leafId(campaignId, index)).lean<LogLeaf>();
    if (!leaf) return undefined;
    count += changeOf(leaf);
  }
  perDb.set(campaignId, { anchor: latest.hash, size, count });
  return count;
}
