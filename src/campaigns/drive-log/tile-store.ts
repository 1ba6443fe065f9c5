import type { Connection } from 'mongoose';
import { isDuplicateKey } from '../../infra/db.js';
import { type LogLeaf, leafId, transparencyModels } from './log.model.js';
import { leafDataOf, publicLeaf } from './log.service.js';
import { leafHash, type MerkleTree } from './merkle.js';
import { type LogTile, tileId, tileModel } from './tile.model.js';
import {
  consistencyOf,
  fullTileRoot,
  type HashLookup,
  inclusionOf,
  lookupIn,
  newTiles,
  rootOf,
  TILE_WIDTH,
  type TileRef,
  tileBytes,
  tilePath,
  tilesNeeded,
  tileWidth,
  verifyConsistency,
  verifyInclusion,
} from './tiles.js';

// Tiles in the database: written by the checkpoint signer from the tree it has loaded (before the
// checkpoint, so every signed size has its partial tiles), read by `_id` to answer a proof without
// the leaves. A tile is a pure function of the leaves it covers, so a missing one is rebuilt from
// them (level 0) or from the tiles below (level L), and any writer writes the same bytes. Proofs
// from tiles are checked against the signed root before they are served: a stale tile (a restored
// or rewritten log) makes the caller fall back to the leaves, which then rewrite the tiles.

/** A signed tree: the latest checkpoint's size and root. Proofs are only asked within it. */
export interface SignedTree {
  size: number;
  root: Buffer;
}

const docOf = (campaignId: string, tile: TileRef, tree: MerkleTree): LogTile => ({
  _id: tileId(campaignId, tilePath(tile)),
  hashes: tileBytes(tile, (level, index) => tree.subtreeHash(level, index)),
});

async function insertTiles(db: Connection, docs: LogTile[]): Promise<void> {
  for (let at = 0; at < docs.length; at += 100) {
    try {
      await tileModel(db).insertMany(docs.slice(at, at + 100), { ordered: false });
    } catch (error) {
      const errors = (error as { writeErrors?: unknown[] }).writeErrors;
      if (!isDuplicateKey(error) && !errors?.every(isDuplicateKey)) throw error;
    }
  }
}

/** Stores the tiles a tree of `size` leaves has beyond one of `from`: new full tiles and the partial ones. */
export async function writeTiles(
  db: Connection,
  campaignId: string,
  tree: MerkleTree,
  from: number,
  size: number,
): Promise<number> {
  const docs = newTiles(from, size).map((tile) => docOf(campaignId, tile, tree));
  await insertTiles(db, docs);
  return docs.length;
}

/** Replaces every tile of a tree of `size` with the tree's, once the leaves are known to match a signed root. */
async function rewriteTiles(db: Connection, campaignId: string, tree: MerkleTree, size: number) {
  const docs = newTiles(0, size).map((tile) => docOf(campaignId, tile, tree));
  for (let at = 0; at < docs.length; at += 100)
    await tileModel(db).bulkWrite(
      docs.slice(at, at + 100).map((doc) => ({
        replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true },
      })),
      { ordered: false },
    );
}

const bytesOf = (raw: unknown): Buffer =>
  Buffer.isBuffer(raw) ? raw : Buffer.from((raw as { buffer: Uint8Array }).buffer);

/** One tile as of a tree where it has `tile.width` hashes: one read by `_id`, or rebuilt and stored. */
async function readTile(db: Connection, campaignId: string, tile: TileRef): Promise<Buffer> {
  const _id = tileId(campaignId, tilePath(tile));
  const stored = await tileModel(db).findById(_id).lean<LogTile>();
  if (stored) return bytesOf(stored.hashes);
  let hashes: Buffer[];
  if (tile.level === 0) {
    const first = tile.index * TILE_WIDTH;
    const leaves = await Promise.all(
      Array.from({ length: tile.width }, (_, i) =>
        transparencyModels(db)
          .Leaf.findById(leafId(campaignId, first + i))
          .lean<LogLeaf>(),
      ),
    );
    hashes = leaves.map((leaf, i) => {
      if (!leaf) throw new Error(`drive log ${campaignId} has no leaf ${first + i}`);
      return leafHash(leafDataOf(publicLeaf(leaf)));
    });
  } else {
    const children = await Promise.all(
      Array.from({ length: tile.width }, (_, i) =>
        readTile(db, campaignId, {
          level: tile.level - 1,
          index: tile.index * TILE_WIDTH + i,
          width: TILE_WIDTH,
        }),
      ),
    );
    hashes = children.map(fullTileRoot);
  }
  const bytes = Buffer.concat(hashes);
  await insertTiles(db, [{ _id, hashes: bytes }]);
  return bytes;
}

/** The stored tile at a tlog-tiles path, or what it would be, derived from a wider one; undefined beyond `size`. */
export async function tileAt(
  db: Connection,
  campaignId: string,
  tile: TileRef,
  size: number,
): Promise<Buffer | undefined> {
  const available = tileWidth(tile.level, tile.index, size);
  if (available < tile.width) return undefined;
  const bytes = await readTile(db, campaignId, { ...tile, width: available });
  return bytes.subarray(0, tile.width * 32);
}

/** Reads the tiles `work` needs, as of the signed size, in parallel, and runs it on them. */
async function withTiles<T>(
  db: Connection,
  campaignId: string,
  signedSize: number,
  work: (lookup: HashLookup) => T,
): Promise<T> {
  const read = new Map<string, Buffer>();
  await Promise.all(
    tilesNeeded(work, signedSize).map(async (tile) =>
      read.set(`${tile.level}/${tile.index}`, await readTile(db, campaignId, tile)),
    ),
  );
  return work(lookupIn((level, index) => read.get(`${level}/${index}`)!));
}

/**
 * The inclusion proof of `leaf` (its leaf hash) at `index` in the tree of `treeSize`, from tiles,
 * if it verifies up to the signed root; undefined when the tiles do not (the caller asks the leaves).
 */
export async function inclusionFromTiles(
  db: Connection,
  campaignId: string,
  leaf: Buffer,
  index: number,
  treeSize: number,
  signed: SignedTree,
): Promise<Buffer[] | undefined> {
  const { path, root, toSigned } = await withTiles(db, campaignId, signed.size, (lookup) => ({
    path: inclusionOf(lookup, index, treeSize),
    root: rootOf(lookup, treeSize),
    toSigned: consistencyOf(lookup, treeSize, signed.size),
  }));
  const holds =
    verifyConsistency(treeSize, signed.size, root, signed.root, toSigned) &&
    verifyInclusion(leaf, index, treeSize, path, root);
  return holds ? path : undefined;
}

/** The consistency proof from `first` to `second` leaves, from tiles, if it verifies up to the signed root. */
export async function consistencyFromTiles(
  db: Connection,
  campaignId: string,
  first: number,
  second: number,
  signed: SignedTree,
): Promise<Buffer[] | undefined> {
  const { path, firstRoot, secondRoot, toSigned } = await withTiles(
    db,
    campaignId,
    signed.size,
    (lookup) => ({
      path: consistencyOf(lookup, first, second),
      firstRoot: rootOf(lookup, first),
      secondRoot: rootOf(lookup, second),
      toSigned: consistencyOf(lookup, second, signed.size),
    }),
  );
  const holds =
    verifyConsistency(second, signed.size, secondRoot, signed.root, toSigned) &&
    verifyConsistency(first, second, firstRoot, secondRoot, path);
  return holds ? path : undefined;
}

/**
 * After a proof from tiles failed: when the leaves (loaded into `tree`) give the signed root, the
 * stored tiles are stale (a restore, a rewritten history) and are replaced by the leaves' own.
 */
export async function repairTiles(
  db: Connection,
  campaignId: string,
  tree: MerkleTree,
  signed: SignedTree,
): Promise<boolean> {
  if (tree.size < signed.size || !tree.root(signed.size).equals(signed.root)) return false;
  await rewriteTiles(db, campaignId, tree, signed.size);
  return true;
}
