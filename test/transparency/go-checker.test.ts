import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointText, parseCheckpointText, parseNote } from '../../bin/drive-verify-core.mjs';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { forgetCheckpoints, noteTextHash } from '../../src/campaigns/drive-log/checkpoint.service.js';
import {
  type Checkpoint,
  type LogLeaf,
  transparencyModels,
} from '../../src/campaigns/drive-log/log.model.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { forgetLoadedLogs, loadLog } from '../../src/campaigns/drive-log/tree-cache.js';
import { fromRoot } from '../../src/infra/paths.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, giftPaid, memberJoins, memberRefunded, newCampaign, verify } from './support.js';

// The reference check: a small Go program (test/transparency/go-checker) verifies the running
// service's checkpoints with golang.org/x/mod/sumdb/note and its consistency and inclusion proofs
// with golang.org/x/mod/sumdb/tlog, the code the Go checksum database runs on. It shares nothing
// with the service or with our verifier, so its "OK" says the log speaks the standard formats.

const exec = promisify(execFile);
let app: TestApp;
let campaign: Campaign;
let binary: string;
let vkeys: string[];
let leaves: LogLeaf[];
let checkpoints: Checkpoint[];

beforeAll(async () => {
  // Built once per change of its sources into the test-services cache (CI builds it with the rest).
  const built = await exec(fromRoot('scripts/install-test-services.sh'), ['go-checker'], {
    encoding: 'utf8',
  });
  binary = built.stdout.trim().split('\n').at(-1)!;
  app = await startTestApp();
  campaign = await newCampaign(app, { startingOffset: 3 });
  const at = (n: number) => new Date(app.deps.clock.now().getTime() - 3_600_000 + n * 1000);
  const members: string[] = [];
  for (let i = 0; i < 3; i++) members.push(await memberJoins(app, at(i)));
  await checkpoint(app, campaign); // 4 leaves: the offset, 3 joins
  members.push(await memberJoins(app, at(3)));
  await giftPaid(app, 'gift-go', at(4));
  await memberRefunded(app, members[1]!, at(5));
  await checkpoint(app, campaign); // 8 leaves: a refund among them
  await memberJoins(app, at(6));
  await checkpoint(app, campaign); // 8 leaves
  const base = `${app.url}/campaigns/${campaign.slug}/transparency`;
  vkeys = (await (await fetch(`${base}/vkeys`)).json()).vkeys;
  const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
  leaves = await Leaf.find({ campaignId: String(campaign._id) })
    .sort({ index: 1 })
    .lean<LogLeaf[]>();
  checkpoints = await Checkpoint.find({ campaignId: String(campaign._id) })
    .sort({ sequence: 1 })
    .lean<Checkpoint[]>();
});
afterAll(() => app.close());

async function goCheck(keys = vkeys): Promise<{ code: number; out: string; err: string }> {
  const args = ['-url', app.url, '-slug', campaign.slug, ...keys.flatMap((k) => ['-vkey', k])];
  return exec(binary, args, { encoding: 'utf8' }).then(
    (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
}

function forget() {
  forgetLoadedLogs(app.deps.db);
  forgetCheckpoints(app.deps.db);
}

async function restore(): Promise<void> {
  const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
  await Leaf.deleteMany({ campaignId: String(campaign._id) });
  await Leaf.insertMany(leaves);
  await Checkpoint.deleteMany({ campaignId: String(campaign._id) });
  await Checkpoint.insertMany(checkpoints);
  forget();
}

describe('the Go reference implementation', () => {
  it('when it checks the live log with the published verifier key, then it accepts every checkpoint note, consistency proof and inclusion proof, and the tree served as tiles', async () => {
    expect(vkeys).toEqual([
      expect.stringMatching(new RegExp(`^members\\.test/drive/${campaign.slug}\\+[0-9a-f]{8}\\+`)),
    ]);
    const result = await goCheck();
    expect(result.err).toBe('');
    expect(result.out.split('\n')).toEqual([
      `origin: members.test/drive/${campaign.slug}`,
      `checkpoints: 3, latest size 8, root ${parseCheckpointText(parseNote(checkpoints[2]!.note)!.text)!.root}`,
      'consistency: 2 proofs verified',
      "leaves: 8 hash to every checkpoint's root",
      'inclusion: 8 proofs verified',
      // The same tree read as C2SP tlog-tiles by tlog.TileHashReader, which checks each tile it reads.
      expect.stringMatching(
        /^tiles: [1-9]\d* read; every root, consistency and inclusion verified from them$/,
      ),
      'OK',
      '',
    ]);
    expect(result.code).toBe(0);
    expect((await verify(app, campaign)).problems).toEqual([]); // and ours agrees
  });

  it('when a stored checkpoint note is changed without the key, then it refuses the note', async () => {
    const { Checkpoint } = transparencyModels(app.deps.db);
    const changed = checkpoints[1]!.note.replace(/^count: (\d+)$/m, (_, n) => `count: ${Number(n) + 1}`);
    await Checkpoint.updateOne({ _id: checkpoints[1]!._id }, { $set: { note: changed } });
    forget();
    try {
      const result = await goCheck();
      expect(result.code).toBe(1);
      expect(result.err).toBe(
        `FAIL: checkpoint 1: invalid signature for key ${vkeys[0]!.split('+').slice(0, 2).join('+')}\n`,
      );
    } finally {
      await restore();
    }
  });

  it('when it is given a key that is not the log’s, then no note verifies', async () => {
    const stranger = createSigner([{ kid: 'stranger', seed: randomBytes(32) }]);
    const result = await goCheck(stranger.vkeys(`members.test/drive/${campaign.slug}`));
    expect(result.code).toBe(1);
    expect(result.err).toBe('FAIL: checkpoint 0: note has no verifiable signatures\n');
  });

  it('when an early leaf is changed and the newest checkpoint re-signed over it with the real key, then tlog.CheckTree refuses the consistency proof', async () => {
    const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
    const first = leaves[0]!;
    await Leaf.updateOne(
      { _id: first._id },
      { $set: { commitment: (first.commitment[0] === 'a' ? 'b' : 'a') + first.commitment.slice(1) } },
    );
    forget();
    const newest = checkpoints.at(-1)!;
    const fields = { ...parseCheckpointText(parseNote(newest.note)!.text)! };
    fields.root = (await loadLog(app.deps.db, String(campaign._id), 8)).tree.root(8).toString('base64');
    const note = createSigner(app.deps.config.transparency.keys).signNote(
      checkpointText(fields),
      fields.origin,
    );
    await Checkpoint.updateOne({ _id: newest._id }, { $set: { note, hash: noteTextHash(note) } });
    forget();
    try {
      const result = await goCheck();
      expect(result.code).toBe(1);
      // The service's proofs now come from the changed leaves: they cannot show the signed past (the
      // first, a power of two in size, is its own subtree, so the first proof to fail is the next).
      expect(result.err).toBe(
        'FAIL: checkpoint 2 does not contain checkpoint 1: invalid transparency proof\n',
      );
    } finally {
      await restore();
    }
  });
});
