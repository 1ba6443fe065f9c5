import type { Connection } from 'mongoose';
import { type LogLeaf, leafId, transparencyModels } from './log.model.js';
import { leafDataOf, type PublicLeaf, publicLeaf } from './log.service.js';
import { leafHash } from './merkle.js';
import { consistencyFromTiles, inclusionFromTiles, repairTiles, type SignedTree } from './tile-store.js';
import { loadedSize, loadLog } from './tree-cache.js';

// The proofs the public API serves. A process that has the log loaded answers from memory; one that
// has not (a fresh process) reads O(log n) tiles by `_id` (tile-store.ts) instead of every leaf.
// A proof from tiles that does not verify up to the signed root is never served: the leaves answer
// instead, and repair the tiles when they give the signed root.

export type { SignedTree };

/** The signed tree of a checkpoint note: its size and its base64 root (lines 2 and 3). */
export const signedTreeOf = (note: string): SignedTree => {
  const [, size, root] = note.split('\n');
  return { size: Number(size), root: Buffer.from(root ?? '', 'base64') };
};

/** After tiles failed: the leaves up to the signed size rewrite the tiles if they give the signed root. */
async function repairFromLeaves(db: Connection, campaignId: string, signed: SignedTree): Promise<void> {
  try {
    const log = await loadLog(db, campaignId, signed.size);
    await repairTiles(db, campaignId, log.tree, signed);
  } catch {
    // Leaves missing up to the signed size: the proof is answered from the leaves there are, as before.
  }
}

/** Leaf `index` and its inclusion proof in the tree of `treeSize` (≤ the signed size). */
export async function inclusionProof(
  db: Connection,
  campaignId: string,
  index: number,
  treeSize: number,
  signed: SignedTree,
): Promise<{ leaf: PublicLeaf; path: Buffer[] }> {
  if (loadedSize(db, campaignId) < treeSize) {
    const stored = await transparencyModels(db).Leaf.findById(leafId(campaignId, index)).lean<LogLeaf>();
    if (stored) {
      const leaf = publicLeaf(stored);
      const path = await inclusionFromTiles(
        db,
        campaignId,
        leafHash(leafDataOf(leaf)),
        index,
        treeSize,
        signed,
      ).catch(() => undefined); // a tile that cannot be read or rebuilt: the leaves answer
      if (path) return { leaf, path };
    }
    await repairFromLeaves(db, campaignId, signed);
  }
  const log = await loadLog(db, campaignId, treeSize);
  return { leaf: log.leaves[index]!, path: log.tree.inclusionProof(index, treeSize) };
}

/** The consistency proof from `first` to `second` leaves (≤ the signed size). */
export async function consistencyProof(
  db: Connection,
  campaignId: string,
  first: number,
  second: number,
  signed: SignedTree,
): Promise<Buffer[]> {
  if (loadedSize(db, campaignId) < second) {
    const path = await consistencyFromTiles(db, campaignId, first, second, signed).catch(() => undefined);
    if (path) return path;
    await repairFromLeaves(db, campaignId, signed);
  }
  return (await loadLog(db, campaignId, second)).tree.consistencyProof(first, second);
}
