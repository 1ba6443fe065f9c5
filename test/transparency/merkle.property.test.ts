import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fromHex,
  treeHead,
  leafHash as verifierLeafHash,
  verifyConsistency,
  verifyInclusion,
} from '../../bin/drive-verify-core.mjs';
import { leafHash, MerkleTree } from '../../src/campaigns/drive-log/merkle.js';
import { deep } from '../support/depth.js';

// The server's tree (src/campaigns/drive-log/merkle.ts) and the standalone verifier's checks
// (bin/drive-verify-core.mjs) are independent code; here each is held to the other and to RFC 6962.

const bytes = (b: Buffer) => new Uint8Array(b);

function treeOf(n: number): MerkleTree {
  const tree = new MerkleTree();
  for (let i = 0; i < n; i++) tree.append(leafHash(`add leaf-${i}`));
  return tree;
}

describe('RFC 6962 hashing', () => {
  it('when the tree is the RFC 6962 test vector, then the roots match the published ones', async () => {
    // Certificate Transparency's reference leaves and roots (RFC 6962 test vectors, as used by
    // google/certificate-transparency and transparency-dev/merkle).
    const leaves = [
      '',
      '00',
      '10',
      '2021',
      '3031',
      '40414243',
      '5051525354555657',
      '606162636465666768696a6b6c6d6e6f',
    ];
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const tree = new MerkleTree();
    const hashes: Uint8Array[] = [];
    for (const [i, hex] of leaves.entries()) {
      const leaf = createHash('sha256')
        .update(Buffer.concat([Buffer.from([0]), Buffer.from(hex, 'hex')]))
        .digest();
      tree.append(leaf);
      hashes.push(bytes(leaf));
      expect(tree.root().toString('hex')).toBe(roots[i]);
      expect(Buffer.from(await treeHead(hashes)).toString('hex')).toBe(roots[i]);
    }
  });

  it('when any leaf of any tree is proven, then the verifier accepts the proof and rejects it for other leaves', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 140 })
          .chain((size) => fc.tuple(fc.constant(size), fc.nat(size - 1), fc.nat(size - 1))),
        async ([size, index, other]) => {
          const tree = treeOf(size);
          const path = tree.inclusionProof(index).map(bytes);
          const root = bytes(tree.root());
          const leaf = await verifierLeafHash(`add leaf-${index}`);
          expect(
            Buffer.from(
              await treeHead(Array.from({ length: size }, (_, i) => bytes(leafHash(`add leaf-${i}`)))),
            ).equals(tree.root()),
          ).toBe(true);
          expect(await verifyInclusion(index, size, leaf, path, root)).toBe(true);
          if (other !== index) expect(await verifyInclusion(other, size, leaf, path, root)).toBe(false);
          expect(await verifyInclusion(index, size, await verifierLeafHash('add forged'), path, root)).toBe(
            false,
          );
        },
      ),
      { numRuns: deep(200) },
    );
  });

  it('when any tree grows, then the consistency proof verifies, and not against a rewritten past', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 140 }).chain((second) => fc.tuple(fc.nat(second), fc.constant(second))),
        fc.nat(),
        async ([first, second], rewrite) => {
          const tree = treeOf(second);
          const path = tree.consistencyProof(first, second).map(bytes);
          const [r1, r2] = [bytes(tree.root(first)), bytes(tree.root(second))];
          expect(await verifyConsistency(first, second, path, r1, r2)).toBe(true);
          if (first > 0 && first < second) {
            // A log that rewrote one of its first `first` leaves has another old root.
            const forged = new MerkleTree();
            for (let i = 0; i < first; i++)
              forged.append(leafHash(i === rewrite % first ? 'add rewritten' : `add leaf-${i}`));
            expect(await verifyConsistency(first, second, path, bytes(forged.root()), r2)).toBe(false);
          }
        },
      ),
      { numRuns: deep(200) },
    );
  });

  it('when a proof is cut short or padded, then it does not verify', async () => {
    const tree = treeOf(37);
    const root = bytes(tree.root());
    const path = tree.inclusionProof(20).map(bytes);
    const leaf = await verifierLeafHash('add leaf-20');
    expect(await verifyInclusion(20, 37, leaf, path.slice(1), root)).toBe(false);
    expect(await verifyInclusion(20, 37, leaf, [...path, fromHex('00'.repeat(32))], root)).toBe(false);
    const consistency = tree.consistencyProof(13, 37).map(bytes);
    expect(await verifyConsistency(13, 37, consistency.slice(0, -1), bytes(tree.root(13)), root)).toBe(false);
  });
});
