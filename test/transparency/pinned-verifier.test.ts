import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointText, parseCheckpointText, parseNote } from '../../bin/drive-verify-core.mjs';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import {
  forgetCheckpoints,
  noteTextHash,
  signCheckpoint,
} from '../../src/campaigns/drive-log/checkpoint.service.js';
import { transparencyModels } from '../../src/campaigns/drive-log/log.model.js';
import { leafDataOf, logSize } from '../../src/campaigns/drive-log/log.service.js';
import { backfillPromises, useLeafSigner } from '../../src/campaigns/drive-log/promises.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { forgetLoadedLogs } from '../../src/campaigns/drive-log/tree-cache.js';
import { fromRoot } from '../../src/infra/paths.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { checkpoint, depsOf, memberJoins, newCampaign, verify } from './support.js';

// The attacks of issue 29 that a verifier without memory lets through, replayed against the running
// service: each one passes `verifyDrive` alone, and the CLI (`bin/verify-drive.mjs`, run as a
// process with a state file) refuses it with its own exit code and keeps its memory unchanged.

let app: TestApp;
let dir: string;

beforeAll(async () => {
  app = await startTestApp();
  dir = await mkdtemp(join(tmpdir(), 'verify-state-'));
});
afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const EXIT = { ok: 0, rollback: 3, fork: 4, keyChange: 5 };

interface Run {
  code: number;
  out: string;
}

let files = 0;
const stateFile = () => join(dir, `state-${++files}.json`);

/** The real CLI, as a reader runs it, against `target` (the app by default). */
function cli(campaign: Campaign, state: string, args: string[] = [], target = app): Promise<Run> {
  return promisify(execFile)(process.execPath, [
    fromRoot('bin/verify-drive.mjs'),
    target.url,
    campaign.slug,
    '--state',
    state,
    '--at',
    app.deps.clock.now().toISOString(),
    ...args,
  ]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
}

interface Remembered {
  origin: string;
  vkeys: string[];
  checkpoint: { sequence: number; size: number; root: string; noteHash: string };
}
async function remembered(state: string, campaign: Campaign): Promise<Remembered | undefined> {
  const saved = JSON.parse(await readFile(state, 'utf8'));
  return saved.logs[`members.test/drive/${campaign.slug}`];
}

async function join_(n: number): Promise<void> {
  const at = new Date(app.deps.clock.now().getTime() - 60_000);
  for (let i = 0; i < n; i++) await memberJoins(app, at);
}

function forget() {
  forgetLoadedLogs(app.deps.db);
  forgetCheckpoints(app.deps.db);
}

/** As a restore from a backup taken at `size` entries would leave the log: later leaves and checkpoints gone. */
async function restoreBackupOf(campaign: Campaign, size: number): Promise<void> {
  const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
  const campaignId = String(campaign._id);
  await Leaf.deleteMany({ campaignId, index: { $gte: size } });
  await Checkpoint.deleteMany({ campaignId, treeSize: { $gt: size } });
  forget();
  await logSize(app.deps.db, campaignId); // finds the end again, as a restarted process would
}

describe('a verifier with memory', () => {
  it('when an honest log grows between two runs, then both pass and the state moves to the newest checkpoint', async () => {
    const campaign = await newCampaign(app);
    const state = stateFile();
    await join_(10);
    await checkpoint(app, campaign);
    const first = await cli(campaign, state);
    expect(first.out).toContain('remembered:    nothing yet (first use: keys are pinned now)');
    expect(first.code).toBe(EXIT.ok);
    const published = (await (await fetch(`${app.url}/campaigns/${campaign.slug}/transparency/vkeys`)).json())
      .vkeys;
    expect(await remembered(state, campaign)).toMatchObject({
      vkeys: published,
      checkpoint: { sequence: 0, size: 11 },
    });

    await join_(5);
    await checkpoint(app, campaign);
    await join_(2);
    await checkpoint(app, campaign);
    const second = await cli(campaign, state);
    expect(second.out).toContain('remembered:    number 0, 11 entries');
    expect(second.out).toContain('count:         17');
    expect(second.code).toBe(EXIT.ok);
    expect((await remembered(state, campaign))?.checkpoint).toMatchObject({ sequence: 2, size: 18 });
  });

  it('when the operator rolls the log back from 21 to 16 entries and re-signs it with its own key, then the verifier refuses a rollback', async () => {
    const campaign = await newCampaign(app);
    const state = stateFile();
    await join_(10);
    await checkpoint(app, campaign);
    await join_(10);
    await checkpoint(app, campaign);
    expect((await cli(campaign, state)).code).toBe(EXIT.ok);
    const before = await readFile(state, 'utf8');

    await restoreBackupOf(campaign, 16);
    await checkpoint(app, campaign); // number 1 again, now of 16 entries, with the real key
    const alone = await verify(app, campaign);
    expect(alone.problems).toEqual([]); // without memory, nothing is wrong
    expect(alone.latest).toMatchObject({ sequence: 1, tree_size: 16 });

    const run = await cli(campaign, state);
    expect(run.out).toContain(
      'PROBLEM: the log went back: its newest checkpoint is number 1 of 16 entries; number 1 of 21 entries was verified before',
    );
    expect(run.out).toContain('REFUSED: rollback');
    expect(run.code).toBe(EXIT.rollback);
    expect(await readFile(state, 'utf8')).toBe(before);
  });

  it('when the history is rewritten and re-signed under a newly published key, then the verifier refuses the key change, and after accepting the key, the fork', async () => {
    const campaign = await newCampaign(app);
    const state = stateFile();
    await join_(6);
    await checkpoint(app, campaign);
    expect((await cli(campaign, state)).code).toBe(EXIT.ok);
    const before = await readFile(state, 'utf8');

    // The operator restarts with a new key only, changes an early leaf and signs the log afresh.
    const seed = randomBytes(32).toString('base64url');
    const rewriter = await startTestApp({
      db: app.deps.db,
      config: testConfig({ DRIVE_SIGNING_KEYS: `k2:${seed}` }),
    });
    try {
      const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
      const first = await Leaf.findOne({ campaignId: String(campaign._id), index: 0 }).lean();
      await Leaf.updateOne(
        { _id: first!._id },
        { $set: { commitment: (first!.commitment[0] === 'a' ? 'b' : 'a') + first!.commitment.slice(1) } },
      );
      await Checkpoint.deleteMany({ campaignId: String(campaign._id) });
      // Every leaf's promise signed again too, with the new key (the rewriter's, on this database).
      await Leaf.updateMany({ campaignId: String(campaign._id) }, { $unset: { promise: 1 } });
      await backfillPromises(app.deps.db, leafDataOf);
      forget();
      await signCheckpoint(depsOf(rewriter), campaign, { force: true });
      expect((await verify(rewriter, campaign)).problems).toEqual([]); // without memory, nothing is wrong

      const refused = await cli(campaign, state, [], rewriter);
      expect(refused.out).toMatch(/PROBLEM: checkpoint 0 is not signed by a pinned key of this log/);
      expect(refused.out).toContain('--accept-key-change');
      expect(refused.code).toBe(EXIT.keyChange);
      expect(await readFile(state, 'utf8')).toBe(before);

      // Told of the new key, the reader accepts it: the rewritten history is still refused.
      const newKey = createSigner([{ kid: 'k2', seed: Buffer.from(seed, 'base64url') }]).vkeys(
        `members.test/drive/${campaign.slug}`,
      );
      const accepted = await cli(campaign, state, ['--accept-key-change', '--key', newKey[0]!], rewriter);
      expect(accepted.out).toContain(
        'PROBLEM: a different tree of 7 entries was verified before: the log forked',
      );
      expect(accepted.code).toBe(EXIT.fork);
      expect(await readFile(state, 'utf8')).toBe(before);
    } finally {
      await rewriter.close();
      // The two apps share the database, whose leaves the last one started signs: the first again.
      useLeafSigner(app.deps.db, {
        signer: createSigner(app.deps.config.transparency.keys),
        publicBaseUrl: app.deps.config.http.publicBaseUrl,
        clock: app.deps.clock,
      });
    }
  });

  it('when a restore serves a different checkpoint of the same size to a verifier that saw the first, then it refuses a fork', async () => {
    const campaign = await newCampaign(app);
    const state = stateFile();
    await join_(10);
    await checkpoint(app, campaign);
    await join_(5);
    await checkpoint(app, campaign); // number 1, 16 entries (the offset leaf and 15 joins)
    expect((await cli(campaign, state)).code).toBe(EXIT.ok);
    const before = await readFile(state, 'utf8');

    // The database comes back from the backup of 11 entries; five other joins fill it to 16 again.
    await restoreBackupOf(campaign, 11);
    await join_(5);
    await checkpoint(app, campaign); // number 1 again, 16 entries, another root
    const fresh = await cli(campaign, stateFile());
    expect(fresh.code).toBe(EXIT.ok); // a reader who saw nothing before cannot tell

    const run = await cli(campaign, state);
    expect(run.out).toContain('PROBLEM: a different tree of 16 entries was verified before: the log forked');
    expect(run.out).toContain('REFUSED: fork');
    expect(run.code).toBe(EXIT.fork);
    expect(await readFile(state, 'utf8')).toBe(before);
  });

  it('when the log is rewritten behind a newer checkpoint, then the consistency proof from the remembered one fails and the verifier refuses a fork', async () => {
    const campaign = await newCampaign(app);
    const state = stateFile();
    await join_(5);
    await checkpoint(app, campaign);
    expect((await cli(campaign, state)).code).toBe(EXIT.ok);

    // Back to 4 entries, then grown past the remembered 6 under a freshly signed history.
    await restoreBackupOf(campaign, 4);
    await join_(5);
    await checkpoint(app, campaign); // number 0, 9 entries
    expect((await verify(app, campaign)).problems).toEqual([]);

    const run = await cli(campaign, state);
    expect(run.out).toContain(
      'PROBLEM: the log of 9 entries does not extend the one of 6 verified before: the log forked',
    );
    expect(run.code).toBe(EXIT.fork);
  });

  it('when the remembered checkpoint is re-signed over the same tree with other extension lines, then the verifier refuses a fork', async () => {
    const campaign = await newCampaign(app);
    const state = stateFile();
    await join_(4);
    const signed = await checkpoint(app, campaign);
    expect((await cli(campaign, state)).code).toBe(EXIT.ok);

    // The same entries under a note signed again with the real key, one line of it changed (here its
    // time; a raised offset and count alike).
    const fields: Record<string, string | number> = {
      ...parseCheckpointText(parseNote(signed!.note)!.text)!,
    };
    fields.time = new Date(Date.parse(String(fields.time)) - 1000).toISOString();
    const note = createSigner(app.deps.config.transparency.keys).signNote(
      checkpointText(fields),
      String(fields.origin),
    );
    await transparencyModels(app.deps.db).Checkpoint.updateOne(
      { _id: signed!._id },
      { $set: { note, hash: noteTextHash(note), time: new Date(String(fields.time)) } },
    );
    forget();
    expect((await verify(app, campaign)).problems).toEqual([]); // without memory, nothing is wrong

    const run = await cli(campaign, state);
    expect(run.out).toContain(
      'PROBLEM: checkpoint 0 is not the one verified before: the history was rewritten',
    );
    expect(run.code).toBe(EXIT.fork);
  });

  it('when the reader gives a key that is not the log’s, then the first run refuses it and remembers nothing', async () => {
    const campaign = await newCampaign(app);
    await join_(2);
    await checkpoint(app, campaign);
    const state = stateFile();
    const stranger = createSigner([{ kid: 'x', seed: randomBytes(32) }]).vkeys(
      `members.test/drive/${campaign.slug}`,
    );
    const run = await cli(campaign, state, ['--key', stranger[0]!]);
    expect(run.code).toBe(EXIT.keyChange);
    await expect(readFile(state, 'utf8')).rejects.toThrow(/ENOENT/);
    const published = (await (await fetch(`${app.url}/campaigns/${campaign.slug}/transparency/vkeys`)).json())
      .vkeys;
    expect((await cli(campaign, state, ['--key', published[0]])).code).toBe(EXIT.ok);
  });
});
