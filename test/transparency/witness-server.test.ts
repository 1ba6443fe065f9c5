import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCosignature, witnessOf } from '../../src/campaigns/drive-log/cosignature.js';
import { leafHash, MerkleTree } from '../../src/campaigns/drive-log/merkle.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import {
  addCheckpoint,
  killWitnesses,
  startWitness,
  type WitnessProcess,
  witnessExit,
  witnessFolder,
} from './witness-support.js';

// The witness a readers' association runs (`npm run witness`, bin/witness.mjs), spoken to over
// HTTP exactly as c2sp.org/tlog-witness says: a log posts `old <size>`, a consistency proof, a
// blank line and its signed checkpoint, and gets a cosignature only for a tree that extends the one
// the witness cosigned before.

const ORIGIN = 'log.test/drive/witnessed';
const logKey = createSigner([{ kid: 'log', seed: randomBytes(32) }]);
const logVkey = logKey.vkeys(ORIGIN)[0]!;

/** A log of `n` leaves, as a tree; `fork` changes its first leaf (another history). */
function treeOf(n: number, fork = false): MerkleTree {
  const tree = new MerkleTree();
  for (let i = 0; i < n; i++) tree.append(leafHash(`add ${fork && i === 0 ? 'forked' : 'leaf'}-${i}`));
  return tree;
}

const textOf = (tree: MerkleTree, size: number, origin = ORIGIN) =>
  `${origin}\n${size}\n${tree.root(size).toString('base64')}\n`;
const noteOf = (tree: MerkleTree, size: number, signer = logKey, origin = ORIGIN) =>
  signer.signNote(textOf(tree, size, origin), origin);
const bodyOf = (old: number, proof: Buffer[], note: string) =>
  `old ${old}\n${proof.map((hash) => `${hash.toString('base64')}\n`).join('')}\n${note}`;
/** What a log sends to move the witness from `old` to `size` of `tree`. */
const extend = (tree: MerkleTree, old: number, size: number) =>
  bodyOf(old, tree.consistencyProof(old, size), noteOf(tree, size));

let dir: string;
let witness: WitnessProcess;
const honest = treeOf(20);

beforeAll(async () => {
  dir = witnessFolder();
  witness = await startWitness(dir, [logVkey]);
});
afterAll(() => {
  killWitnesses();
  rmSync(dir, { recursive: true, force: true });
});

describe('the witness', () => {
  it('when a log submits its first checkpoint from old size 0, then it answers one cosignature/v1 line over that checkpoint, by its own key', async () => {
    const before = Math.floor(Date.now() / 1000);
    const answer = await addCheckpoint(witness, extend(honest, 0, 5));
    expect(answer.status).toBe(200);
    const lines = answer.text.split('\n');
    expect(lines).toHaveLength(2); // one line, ending in a newline
    expect(lines[1]).toBe('');
    const time = verifyCosignature(
      witnessOf({ url: witness.url, vkey: witness.vkey }),
      textOf(honest, 5),
      lines[0]!,
    );
    expect(time).not.toBeNull();
    expect(time!.getTime() / 1000).toBeGreaterThanOrEqual(before);
    // Over that checkpoint only: the same line does not verify another.
    expect(
      verifyCosignature(witnessOf({ url: witness.url, vkey: witness.vkey }), textOf(honest, 6), lines[0]!),
    ).toBeNull();
    // Monitors read what it cosigned at <hex SHA-256 of the origin>/checkpoint: the log's
    // signature it verified and its own.
    const originHash = createHash('sha256').update(ORIGIN).digest('hex');
    const served = await (await fetch(`${witness.url}/${originHash}/checkpoint`)).text();
    expect(served).toBe(`${noteOf(honest, 5)}${lines[0]}\n`);
  });

  it('when the old size is not the size it last cosigned, then it answers 409 with that size as text/x.tlog.size and cosigns nothing', async () => {
    const answer = await addCheckpoint(witness, extend(honest, 3, 8));
    expect(answer).toEqual({ status: 409, type: 'text/x.tlog.size', text: '5\n' });
    const fromZero = await addCheckpoint(witness, extend(honest, 0, 8));
    expect(fromZero).toEqual({ status: 409, type: 'text/x.tlog.size', text: '5\n' });
    // From the size it names, the same checkpoint is cosigned.
    expect((await addCheckpoint(witness, extend(honest, 5, 8))).status).toBe(200);
  });

  it('when the consistency proof does not verify, then it answers 422 and still holds the size it cosigned', async () => {
    const proof = honest.consistencyProof(8, 12);
    proof[0] = Buffer.from(proof[0]!.map((byte, i) => (i === 0 ? byte ^ 1 : byte)));
    const answer = await addCheckpoint(witness, bodyOf(8, proof, noteOf(honest, 12)));
    expect(answer.status).toBe(422);
    expect(answer.text).toBe('the consistency proof does not verify\n');
    expect((await addCheckpoint(witness, extend(honest, 0, 12))).text).toBe('8\n');
  });

  it('when the log signs a checkpoint of another history (a fork), then no proof gets it cosigned', async () => {
    const forked = treeOf(12, true);
    // Its own proof, from a tree of 8 the witness never cosigned.
    const answer = await addCheckpoint(
      witness,
      bodyOf(8, forked.consistencyProof(8, 12), noteOf(forked, 12)),
    );
    expect(answer.status).toBe(422);
    // The same size as the one cosigned, another root.
    const same = await addCheckpoint(witness, bodyOf(8, [], noteOf(forked, 8)));
    expect(same).toMatchObject({ status: 422, text: 'another root for the size already cosigned\n' });
    expect(witness.output()).toContain('"refused":"the consistency proof does not verify"');
    // The honest log goes on.
    expect((await addCheckpoint(witness, extend(honest, 8, 12))).status).toBe(200);
  });

  it('when the checkpoint is not signed by the log’s key, is of a log it does not witness, or is not a checkpoint, then it answers 403, 404 or 400', async () => {
    const stranger = createSigner([{ kid: 'stranger', seed: randomBytes(32) }]);
    expect((await addCheckpoint(witness, bodyOf(12, [], noteOf(honest, 12, stranger)))).status).toBe(403);
    // A signature line under the log's name and key id that does not verify.
    const forged = noteOf(honest, 12).replace(/ (\S+)\n$/, (_, encoded: string) => {
      const bytes = Buffer.from(encoded, 'base64');
      bytes[10]! ^= 1; // in the signature, after the key id
      return ` ${bytes.toString('base64')}\n`;
    });
    expect((await addCheckpoint(witness, bodyOf(12, [], forged))).status).toBe(403);
    // Beside a good one, too: a known key's signature that fails makes the note malformed.
    const badLine = forged.slice(forged.lastIndexOf('\n—') + 1);
    expect((await addCheckpoint(witness, bodyOf(12, [], `${noteOf(honest, 12)}${badLine}`))).status).toBe(
      403,
    );
    const other = stranger.signNote(textOf(honest, 12, 'other.test/log'), 'other.test/log');
    expect((await addCheckpoint(witness, bodyOf(0, [], other))).status).toBe(404);
    expect((await addCheckpoint(witness, 'old 12\nnot a checkpoint')).status).toBe(400);
    expect((await addCheckpoint(witness, extend(honest, 12, 12).replace('old 12', 'old 13'))).status).toBe(
      400,
    );
    expect((await fetch(`${witness.url}/add-checkpoint`)).status).toBe(405);
  });

  it('when the witness restarts, then it keeps its key and the size it cosigned, and a second process on the same state is refused', async () => {
    const again = await startWitness(dir, [logVkey]).catch((error: Error) => error);
    expect(again).toBeInstanceOf(Error); // the first one holds the state
    expect(String(again)).toContain('holds this state');
    expect(await witness.stop()).toBe(0);
    witness = await startWitness(dir, [logVkey]);
    expect(witness.vkey).toMatch(/^witness\.readers\.test\/w1\+[0-9a-f]{8}\+B/);
    expect(await addCheckpoint(witness, extend(honest, 0, 20))).toEqual({
      status: 409,
      type: 'text/x.tlog.size',
      text: '12\n',
    });
    expect((await addCheckpoint(witness, extend(honest, 12, 20))).status).toBe(200);
    const state = JSON.parse(readFileSync(path.join(dir, 'witness-state.json'), 'utf8'));
    expect(state.logs[ORIGIN]).toMatchObject({ size: 20, root: honest.root(20).toString('base64') });
  });

  it('when it is configured by a file and a log submits a checkpoint of size 0, then it cosigns only the empty tree', async () => {
    const other = witnessFolder();
    const empty = 'log.test/drive/empty';
    writeFileSync(
      path.join(other, 'witness.json'),
      JSON.stringify({ name: 'w.test/file', logs: [{ origin: empty, vkeys: logKey.vkeys(empty) }] }),
    );
    const fromFile = await startWitness(other, [], ['--config', path.join(other, 'witness.json')]);
    try {
      const emptyText = `${empty}\n0\n${createHash('sha256').digest('base64')}\n`;
      const wrongRoot = `${empty}\n0\n${honest.root(1).toString('base64')}\n`;
      expect((await addCheckpoint(fromFile, bodyOf(0, [], logKey.signNote(wrongRoot, empty)))).status).toBe(
        422,
      );
      expect((await addCheckpoint(fromFile, bodyOf(0, [], logKey.signNote(emptyText, empty)))).status).toBe(
        200,
      );
      // It witnesses the file's log only.
      expect((await addCheckpoint(fromFile, extend(honest, 0, 5))).status).toBe(404);
    } finally {
      await fromFile.stop();
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('when its state file is not a witness state, then it refuses to start rather than forget what it cosigned', async () => {
    const other = witnessFolder();
    try {
      writeFileSync(path.join(other, 'state.json'), '{"logs": []}');
      const result = await witnessExit(other, [
        '--name',
        'w.test/x',
        '--state',
        'state.json',
        '--log',
        logVkey,
      ]);
      expect(result).toMatchObject({ code: 2, output: expect.stringContaining('not a witness state file') });
      const bad = await witnessExit(other, ['--log', logVkey, '--key', 'missing.key']);
      expect(bad).toMatchObject({ code: 2 });
      expect(bad.output).toContain('--name');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
