import { createHash } from 'node:crypto';

// The log's interior hashes as C2SP tlog-tiles: tile L/N holds up to 256 consecutive hashes of
// complete subtrees of 256^L leaves each (level 0: leaf hashes; level L: roots of full tiles of
// level L − 1). A full tile never changes; a partial one (`.p/W`, W < 256) is the first W hashes of
// what the full tile will be. Any root or RFC 6962 proof then needs one tile per level along two
// paths: O(log n) reads by `_id` (tile-store.ts). Everything here is pure.

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
const HASH_BYTES = 32;

const sha256 = (...parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const nodeHash = (left: Buffer, right: Buffer) => sha256(Buffer.from([1]), left, right);
const EMPTY_ROOT = sha256();

export interface TileRef {
  level: number;
  index: number;
  /** 1–256: 256 is a full tile. */
  width: number;
}

/** How many hashes tile `level/index` has in a tree of `size` leaves: 0 (none) to 256 (full). */
export function tileWidth(level: number, index: number, size: number): number {
  const hashes = Math.floor(size / TILE_WIDTH ** level);
  return Math.max(0, Math.min(TILE_WIDTH, hashes - index * TILE_WIDTH));
}

/** The tiles a tree of `size` leaves has that a tree of `from` leaves had not (full or wider). */
export function newTiles(from: number, size: number): TileRef[] {
  const tiles: TileRef[] = [];
  for (let level = 0; TILE_WIDTH ** level <= size; level++) {
    const hashes = Math.floor(size / TILE_WIDTH ** level);
    const before = Math.floor(from / TILE_WIDTH ** level);
    for (let index = Math.floor(before / TILE_WIDTH); index * TILE_WIDTH < hashes; index++) {
      const width = tileWidth(level, index, size);
      if (width > tileWidth(level, index, from)) tiles.push({ level, index, width });
    }
  }
  return tiles;
}

/** `<L>/<N>[.p/<W>]` with N in 3-digit groups, all but the last prefixed `x` (tlog-tiles). */
export function tilePath({ level, index, width }: TileRef): string {
  const groups: string[] = [];
  let n = index;
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  const encoded = groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/');
  return `${level}/${encoded}${width < TILE_WIDTH ? `.p/${width}` : ''}`;
}

/** Reads a tlog-tiles path (`<L>/<N>[.p/<W>]`); undefined when it is not one. */
export function parseTilePath(path: string): TileRef | undefined {
  const match = /^(0|[1-9]\d?)\/((?:x\d{3}\/)*\d{3})(?:\.p\/([1-9]\d{0,2}))?$/.exec(path);
  if (!match) return undefined;
  const level = Number(match[1]);
  const index = Number(match[2]!.replaceAll('x', '').replaceAll('/', ''));
  const width = match[3] === undefined ? TILE_WIDTH : Number(match[3]);
  if (level > 63 || (match[3] !== undefined && width >= TILE_WIDTH)) return undefined;
  if (tilePath({ level, index, width }) !== path) return undefined; // no leading zeroes
  return { level, index, width };
}

/** The tile's content from the tree: `subtree(level, index)` answers complete subtrees' hashes. */
export function tileBytes(tile: TileRef, subtree: HashLookup): Buffer {
  const hashes: Buffer[] = [];
  for (let i = 0; i < tile.width; i++)
    hashes.push(subtree(TILE_HEIGHT * tile.level, tile.index * TILE_WIDTH + i));
  return Buffer.concat(hashes);
}

/** MTH over a run of 2^k hashes (k ≤ 8): the subtree they are the bottom of. */
function mth(hashes: Buffer[]): Buffer {
  let row = hashes;
  while (row.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i]!, row[i + 1]!));
    row = next;
  }
  return row[0]!;
}

/** The root of a full tile: the hash its parent tile holds for it. */
export function fullTileRoot(bytes: Buffer): Buffer {
  return mth(splitHashes(bytes));
}

export function splitHashes(bytes: Buffer): Buffer[] {
  const hashes: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += HASH_BYTES) hashes.push(bytes.subarray(at, at + HASH_BYTES));
  return hashes;
}

/** Complete subtree `index` at tree `level` (2^level leaves): which tile holds its bottom hashes. */
export function tileOf(level: number, index: number): { level: number; index: number } {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const first = index * 2 ** (level - TILE_HEIGHT * tileLevel);
  return { level: tileLevel, index: Math.floor(first / TILE_WIDTH) };
}

/** A complete subtree's hash from the tile `tileOf` names, given that tile's bytes. */
export function subtreeFromTile(bytes: Buffer, level: number, index: number): Buffer {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const span = 2 ** (level - TILE_HEIGHT * tileLevel);
  const first = (index * span) % TILE_WIDTH;
  const hashes = splitHashes(bytes).slice(first, first + span);
  if (hashes.length !== span) throw new RangeError(`tile too narrow for subtree ${index} at ${level}`);
  return mth(hashes);
}

// RFC 6962 over any source of complete subtrees' hashes (the same walks as merkle.ts). Run once with
// a lookup that records what it is asked (`neededSubtrees`), then with the tiles read for those.

/** The hash of complete subtree `index` at `level` (2^level leaves). */
export type HashLookup = (level: number, index: number) => Buffer;

function splitOf(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function rangeHash(lookup: HashLookup, start: number, n: number): Buffer {
  if ((n & (n - 1)) === 0) return lookup(Math.log2(n), start / n);
  const k = splitOf(n);
  return nodeHash(rangeHash(lookup, start, k), rangeHash(lookup, start + k, n - k));
}

export function rootOf(lookup: HashLookup, size: number): Buffer {
  return size === 0 ? EMPTY_ROOT : rangeHash(lookup, 0, size);
}

/** PATH(m, D[0:size]) of RFC 6962 §2.1.1. */
export function inclusionOf(lookup: HashLookup, index: number, size: number): Buffer[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path: Buffer[] = [];
  const walk = (m: number, start: number, n: number) => {
    if (n === 1) return;
    const k = splitOf(n);
    if (m < k) {
      walk(m, start, k);
      path.push(rangeHash(lookup, start + k, n - k));
    } else {
      walk(m - k, start + k, n - k);
      path.push(rangeHash(lookup, start, k));
    }
  };
  walk(index, 0, size);
  return path;
}

/** PROOF(first, D[0:second]) of RFC 6962 §2.1.2. */
export function consistencyOf(lookup: HashLookup, first: number, second: number): Buffer[] {
  if (!(first >= 0 && first <= second)) throw new RangeError(`no consistency from ${first} to ${second}`);
  if (first === 0 || first === second) return [];
  const path: Buffer[] = [];
  const sub = (m: number, start: number, n: number, whole: boolean) => {
    if (m === n) {
      if (!whole) path.push(rangeHash(lookup, start, n));
      return;
    }
    const k = splitOf(n);
    if (m <= k) {
      sub(m, start, k, whole);
      path.push(rangeHash(lookup, start + k, n - k));
    } else {
      sub(m - k, start + k, n - k, false);
      path.push(rangeHash(lookup, start, k));
    }
  };
  sub(first, 0, second, true);
  return path;
}

/** Runs `work` against a lookup that only records the subtrees asked for: the reads to make. */
export function neededSubtrees(work: (lookup: HashLookup) => unknown): [number, number][] {
  const asked = new Map<string, [number, number]>();
  work((level, index) => {
    asked.set(`${level}/${index}`, [level, index]);
    return EMPTY_ROOT;
  });
  return [...asked.values()];
}

/** The tiles, as of a tree of `size` leaves, whose hashes `work` asks for (one per level and path). */
export function tilesNeeded(work: (lookup: HashLookup) => unknown, size: number): TileRef[] {
  const tiles = new Map<string, TileRef>();
  for (const [level, index] of neededSubtrees(work)) {
    const tile = tileOf(level, index);
    tiles.set(`${tile.level}/${tile.index}`, { ...tile, width: tileWidth(tile.level, tile.index, size) });
  }
  return [...tiles.values()];
}

/** A lookup over tiles read: `tile(level, index)` answers the bytes of the tile read there. */
export function lookupIn(tile: (level: number, index: number) => Buffer): HashLookup {
  return (level, index) => {
    const where = tileOf(level, index);
    return subtreeFromTile(tile(where.level, where.index), level, index);
  };
}

// RFC 9162 §2.1.3.2 and §2.1.4.2: the service checks a proof computed from tiles against a signed
// root before serving it, so a stale or damaged tile can never reach a reader.

const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

export function verifyInclusion(
  leaf: Buffer,
  index: number,
  size: number,
  path: Buffer[],
  root: Buffer,
): boolean {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else r = nodeHash(r, p);
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r.equals(root);
}

export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Buffer,
  secondRoot: Buffer,
  path: Buffer[],
): boolean {
  if (first > second) return false;
  if (first === second) return path.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0) return path.length === 0;
  if (path.length === 0) return false;
  const nodes = (first & (first - 1)) === 0 ? [firstRoot, ...path] : path;
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = nodes[0]!;
  let sr = nodes[0]!;
  for (const c of nodes.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else sr = nodeHash(sr, c);
    fn = half(fn);
    sn = half(sn);
  }
  return fr.equals(firstRoot) && sr.equals(secondRoot) && sn === 0;
}
