import type { Connection } from 'mongoose';
import { type LogLeaf, leafId, transparencyModels } from './log.model.js';
import { leafDataOf, type PublicLeaf, publicLeaf } from './log.service.js';
import { leafHash, MerkleTree } from './merkle.js';

// Leaves never change, so each process keeps a campaign's tree (and its public leaves and running
// counts) in memory and only reads leaves it has not seen, by primary key. Proofs and checkpoints
// then cost O(log n) hashes instead of a read of the whole log.

export interface LoadedLog {
  tree: MerkleTree;
  leaves: PublicLeaf[];
  /** additions[n] / revocations[n]: how many of the first n leaves are each kind. */
  additions: number[];
  revocations: number[];
  /** offsets[n]: the sum of the offset leaves' amounts among the first n; offsetChanges[n]: how many. */
  offsets: number[];
  offsetChanges: number[];
}

const logs = new WeakMap<Connection, Map<string, LoadedLog>>();
const loading = new WeakMap<Connection, Map<string, Promise<unknown>>>();

function emptyLog(): LoadedLog {
  return {
    tree: new MerkleTree(),
    leaves: [],
    additions: [0],
    revocations: [0],
    offsets: [0],
    offsetChanges: [0],
  };
}

/** The campaign's log with at least its first `size` leaves loaded (they must exist). */
export function loadLog(db: Connection, campaignId: string, size: number): Promise<LoadedLog> {
  const perDb = logs.get(db) ?? new Map<string, LoadedLog>();
  logs.set(db, perDb);
  const queue = loading.get(db) ?? new Map<string, Promise<unknown>>();
  loading.set(db, queue);
  // One reader at a time per log, so two requests never append the same leaf to the tree twice.
  const turn = (queue.get(campaignId) ?? Promise.resolve()).then(async () => {
    let log = perDb.get(campaignId) ?? emptyLog();
    perDb.set(campaignId, log);
    if (
      log.leaves.length > 0 &&
      !(await transparencyModels(db).Leaf.exists({ _id: leafId(campaignId, 0) }))
    ) {
      log = emptyLog(); // the log was emptied under us (tests, a restored backup)
      perDb.set(campaignId, log);
    }
    while (log.leaves.length < size) {
      const index = log.leaves.length;
      const leaf = await transparencyModels(db).Leaf.findById(leafId(campaignId, index)).lean<LogLeaf>();
      if (!leaf) throw new Error(`drive log ${campaignId} has no leaf ${index}`);
      const visible = publicLeaf(leaf);
      log.tree.append(leafHash(leafDataOf(visible)));
      log.leaves.push(visible);
      log.additions.push(log.additions[index]! + (leaf.kind === 'add' ? 1 : 0));
      log.revocations.push(log.revocations[index]! + (leaf.kind === 'revoke' ? 1 : 0));
      log.offsets.push(log.offsets[index]! + (leaf.kind === 'offset' ? (leaf.amount ?? 0) : 0));
      log.offsetChanges.push(log.offsetChanges[index]! + (leaf.kind === 'offset' ? 1 : 0));
    }
    return log;
  });
  queue.set(
    campaignId,
    turn.catch(() => {}),
  );
  return turn;
}

/** Forgets every loaded log of this database (tests that tamper with stored leaves). */
export function forgetLoadedLogs(db: Connection): void {
  logs.delete(db);
}

/** How many leaves this process has loaded of the campaign's log (0: none; proofs then read tiles). */
export function loadedSize(db: Connection, campaignId: string): number {
  return logs.get(db)?.get(campaignId)?.leaves.length ?? 0;
}
