import { createHash } from 'node:crypto';

// RFC 6962 Merkle tree hashing (the Certificate Transparency log's), on the server side: roots,
// inclusion proofs and consistency proofs. The verifier (bin/drive-verify-core.mjs) checks them
// with its own, independent code; the property tests hold the two against each other.
//
// The tree keeps every complete, aligned subtree's hash as leaves arrive (levels[k][j] covers leaves
// j·2^k … (j+1)·2^k − 1), so any root or proof for any size is O(log n) hashes, not O(n).

const sha256 = (...parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

export const leafHash = (leafData: string) => sha256(Buffer.from([0]), Buffer.from(leafData, 'utf8'));
const nodeHash = (left: Buffer, right: Buffer) => sha256(Buffer.from([1]), left, right);
const EMPTY_ROOT = sha256();

/** The largest power of two strictly below n (n ≥ 2). */
function splitOf(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export class MerkleTree {
  private readonly levels: Buffer[][] = [[]];

  get size(): number {
    return this.levels[0]!.length;
  }

  append(hash: Buffer): void {
    this.levels[0]!.push(hash);
    // Each time a subtree of 2^(k+1) leaves completes, keep its hash.
    for (let k = 0; ; k++) {
      const level = this.levels[k]!;
      if (level.length % 2 !== 0) return;
      if (!this.levels[k + 1]) this.levels[k + 1] = [];
      this.levels[k + 1]!.push(nodeHash(level[level.length - 2]!, level[level.length - 1]!));
    }
  }

  /** MTH(D[start : start + n]), start aligned to the largest power of two ≤ n as RFC 6962 splits. */
  private hashOf(start: number, n: number): Buffer {
    if (n === 1) return this.levels[0]![start]!;
    if ((n & (n - 1)) === 0) {
      const k = Math.log2(n);
      const stored = this.levels[k]?.[start / n];
      if (stored) return stored;
    }
    const k = splitOf(n);
    return nodeHash(this.hashOf(start, k), this.hashOf(start + k, n - k));
  }

  /** The hash of complete subtree `index` at `level` (2^level leaves from index·2^level): tiles.ts. */
  subtreeHash(level: number, index: number): Buffer {
    const hash = this.levels[level]?.[index];
    if (!hash) throw new RangeError(`no complete subtree ${index} at level ${level}`);
    return hash;
  }

  root(size = this.size): Buffer {
    this.check(size);
    return size === 0 ? EMPTY_ROOT : this.hashOf(0, size);
  }

  /** PATH(m, D[0:size]) of RFC 6962 §2.1.1. */
  inclusionProof(index: number, size = this.size): Buffer[] {
    this.check(size);
    if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
    const path: Buffer[] = [];
    const walk = (m: number, start: number, n: number) => {
      if (n === 1) return;
      const k = splitOf(n);
      if (m < k) {
        walk(m, start, k);
        path.push(this.hashOf(start + k, n - k));
      } else {
        walk(m - k, start + k, n - k);
        path.push(this.hashOf(start, k));
      }
    };
    walk(index, 0, size);
    return path;
  }

  /** PROOF(first, D[0:second]) of RFC 6962 §2.1.2. */
  consistencyProof(first: number, second = this.size): Buffer[] {
    this.check(second);
    if (!(first >= 0 && first <= second)) throw new RangeError(`no consistency from ${first} to ${second}`);
    if (first === 0 || first === second) return [];
    const path: Buffer[] = [];
    const sub = (m: number, start: number, n: number, whole: boolean) => {
      if (m === n) {
        if (!whole) path.push(this.hashOf(start, n));
        return;
      }
      const k = splitOf(n);
      if (m <= k) {
        sub(m, start, k, whole);
        path.push(this.hashOf(start + k, n - k));
      } else {
        sub(m - k, start + k, n - k, false);
        path.push(this.hashOf(start, k));
      }
    };
    sub(first, 0, second, true);
    return path;
  }

  private check(size: number): void {
    if (!(Number.isInteger(size) && size >= 0 && size <= this.size))
      throw new RangeError(`the tree has ${this.size} leaves, not ${size}`);
  }
}
