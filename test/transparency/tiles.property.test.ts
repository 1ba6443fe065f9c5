import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash, MerkleTree } from '../../src/campaigns/drive-log/merkle.js';
import {
  consistencyOf,
  inclusionOf,
  lookupIn,
  newTiles,
  parseTilePath,
  rootOf,
  tileBytes,
  tilePath,
  tilesNeeded,
  verifyConsistency,
  verifyInclusion,
} from '../../src/campaigns/drive-log/tiles.js';
import { deep } from '../support/depth.js';

// Proofs from stored tiles (src/campaigns/drive-log/tiles.ts) against the in-memory tree
// (merkle.ts): tiles written as a signer writes them, checkpoint after checkpoint, must answer
// every root and proof about any size up to the latest checkpoint exactly as the tree does, reading
// only the tiles that checkpoint's size names.

const MAX = 70_000; // past 65,536: three levels of tiles
const tree = new MerkleTree();
for (let i = 0; i < MAX; i++) tree.append(leafHash(`add leaf-${i}`));
const fromTree = (level: number, index: number) => tree.subtreeHash(level, index);

/** Tiles as the signer stores them: at each checkpoint size, those it adds to the one before. */
function storeFor(checkpoints: number[]): Map<string, Buffer> {
  const store = new Map<string, Buffer>();
  let from = 0;
  for (const size of checkpoints) {
    for (const tile of newTiles(from, size)) store.set(tilePath(tile), tileBytes(tile, fromTree));
    from = size;
  }
  return store;
}

/** Runs `work` on tiles from the store as of `signed`, and says which were read. */
function fromTiles<T>(store: Map<string, Buffer>, signed: number, work: Parameters<typeof tilesNeeded>[0]) {
  const needed = tilesNeeded(work, signed);
  const read = new Map<string, Buffer>();
  for (const tile of needed) {
    const bytes = store.get(tilePath(tile));
    if (!bytes) throw new Error(`tile ${tilePath(tile)} was never written`);
    read.set(`${tile.level}/${tile.index}`, bytes);
  }
  return {
    result: work(lookupIn((level, index) => read.get(`${level}/${index}`)!)) as T,
    reads: needed.length,
  };
}

const hex = (hashes: Buffer[]) => hashes.map((h) => h.toString('hex'));

const scenario = fc
  .uniqueArray(fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: MAX })), {
    minLength: 1,
    maxLength: 6,
  })
  .map((sizes) => sizes.sort((a, b) => a - b))
  .chain((checkpoints) => {
    const signed = checkpoints.at(-1)!;
    return fc.record({
      checkpoints: fc.constant(checkpoints),
      treeSize: fc.integer({ min: 1, max: signed }),
      second: fc.integer({ min: 0, max: signed }),
      leafPick: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      firstPick: fc.double({ min: 0, max: 1, noNaN: true }),
    });
  });

describe('proofs from tiles', () => {
  it('when tiles are written checkpoint by checkpoint, then roots and proofs from them equal the tree’s, verify, and take a few tiles', () => {
    fc.assert(
      fc.property(scenario, ({ checkpoints, treeSize, second, leafPick, firstPick }) => {
        const signed = checkpoints.at(-1)!;
        const store = storeFor(checkpoints);
        const index = Math.floor(leafPick * treeSize);
        const first = Math.floor(firstPick * second);
        const levels = Math.ceil(Math.log2(signed + 1) / 8);

        const inclusion = fromTiles<{ path: Buffer[]; root: Buffer }>(store, signed, (lookup) => ({
          path: inclusionOf(lookup, index, treeSize),
          root: rootOf(lookup, treeSize),
        }));
        expect(hex(inclusion.result.path)).toEqual(hex(tree.inclusionProof(index, treeSize)));
        expect(inclusion.result.root.equals(tree.root(treeSize))).toBe(true);
        const leaf = leafHash(`add leaf-${index}`);
        expect(verifyInclusion(leaf, index, treeSize, inclusion.result.path, tree.root(treeSize))).toBe(true);
        expect(
          verifyInclusion(
            leafHash('add another'),
            index,
            treeSize,
            inclusion.result.path,
            tree.root(treeSize),
          ),
        ).toBe(false);
        // One tile per level on the leaf's path and one per level on the tree's right edge.
        expect(inclusion.reads).toBeLessThanOrEqual(2 * levels);

        const consistency = fromTiles<Buffer[]>(store, signed, (lookup) =>
          consistencyOf(lookup, first, second),
        );
        const expected = tree.consistencyProof(first, second);
        expect(hex(consistency.result)).toEqual(hex(expected));
        expect(verifyConsistency(first, second, tree.root(first), tree.root(second), expected)).toBe(true);
        expect(consistency.reads).toBeLessThanOrEqual(3 * levels);
      }),
      { numRuns: deep(150) },
    );
  });

  it('when a tile path is written, then it reads back as the same tile, and malformed paths are refused', () => {
    expect(tilePath({ level: 0, index: 1234067, width: 256 })).toBe('0/x001/x234/067');
    expect(tilePath({ level: 2, index: 0, width: 1 })).toBe('2/000.p/1');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 256 }),
        (level, index, width) => {
          expect(parseTilePath(tilePath({ level, index, width }))).toEqual({ level, index, width });
        },
      ),
    );
    for (const bad of ['0/1', '00/000', '0/000.p/0', '0/000.p/256', '0/001/002', '64/000', '0/x000.p/1'])
      expect(parseTilePath(bad)).toBeUndefined();
  });
});
