import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointText, parseCheckpointText, parseNote } from '../../bin/drive-verify-core.mjs';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { contributionTally } from '../../src/campaigns/campaign.service.js';
import {
  forgetCheckpoints,
  noteTextHash,
  signCheckpoint,
} from '../../src/campaigns/drive-log/checkpoint.service.js';
import {
  commitmentAlias,
  type LogLeaf,
  leafId,
  recordAlias,
  transparencyModels,
} from '../../src/campaigns/drive-log/log.model.js';
import { logSize, receiptOf, staffHash } from '../../src/campaigns/drive-log/log.service.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { forgetLoadedLogs } from '../../src/campaigns/drive-log/tree-cache.js';
import { connectDatabase } from '../../src/infra/db.js';
import { fromRoot } from '../../src/infra/paths.js';
import { registerModels } from '../../src/models.js';
import { staffModels } from '../../src/staff/staff.model.js';
import { staffToken } from '../support/staff.js';
import { databaseUri, manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { checkpoint, depsOf, memberJoins, newCampaign, verify } from './support.js';

// Issue 29's six attacks on the drive count, and where each is replayed against a running service
// with the verifier refusing it (the table is also in src/campaigns/drive-log/README.md):
//
// | # | Attack                                   | Replayed in                                   | Refusal                         |
// | 1 | an editor or writer moves the offset     | here; count-attacks.test.ts, "attack 1"       | shown as an offset change; a claim that is not the leaves' is refused |
// | 2 | leaves inserted into drive_log_leaves    | here; count-attacks.test.ts, "attack 2"       | leaf has no signed promise       |
// | 3 | tally marks inserted / a leaf's total    | here; count-attacks.test.ts, "attack 3"       | the count shown stays the log's  |
// | 4 | rollback re-signed with the operator key | pinned-verifier.test.ts                       | exit 3 rollback                  |
// | 5 | history rewritten under a new key        | pinned-verifier.test.ts                       | exit 5 key change, then 4 fork   |
// | 5b| split view between two processes         | here                                          | exit 3 rollback / exit 4 fork    |
// | 6 | a promised leaf dropped                  | here                                          | exit 7 broken promise            |

const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
let app: TestApp;
let dir: string;
let files = 0;

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ PROGRESS_CACHE_SECONDS: '0' }), deps: { clock } });
  dir = await mkdtemp(join(tmpdir(), 'six-attacks-'));
});
afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const EXIT = { ok: 0, problems: 1, rollback: 3, fork: 4, brokenPromise: 7 };
const file = (name: string) => join(dir, `${name}-${++files}`);

/** The real CLI, as a reader runs it, with a state file, against `target`. */
function cli(
  campaign: Campaign,
  state: string,
  args: string[] = [],
  target = app,
): Promise<{ code: number; out: string }> {
  return promisify(execFile)(process.execPath, [
    fromRoot('bin/verify-drive.mjs'),
    target.url,
    campaign.slug,
    '--state',
    state,
    '--at',
    clock.now().toISOString(),
    ...args,
  ]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
}

async function joins(n: number, db: Connection = app.deps.db): Promise<string[]> {
  const ids: string[] = [];
  const as = { ...app, deps: { ...app.deps, db } } as TestApp;
  for (let i = 0; i < n; i++) ids.push(await memberJoins(as, clock.now()));
  return ids;
}

/** A second process on the same database: its own connection, so its own caches and hints. */
async function secondProcess(): Promise<{ other: TestApp; close: () => Promise<void> }> {
  const db = await connectDatabase({ uri: databaseUri(app.deps.db.name), poolSize: 4, timeoutMs: 10_000 });
  registerModels(db);
  const other = await startTestApp({ db, deps: { clock } });
  return {
    other,
    close: async () => {
      await other.close();
      await db.close();
    },
  };
}

/** What the member keeps from their account page: the receipt and the promise, as a file. */
async function keptBy(campaign: Campaign, memberId: string) {
  const found = (await receiptOf(app.deps.db, campaign._id, `${campaign._id}:member:${memberId}`))!;
  expect(found.promise).toMatch(/^membership-drive promise v1\n/);
  const path = file('promise');
  await writeFile(path, found.promise!);
  return { ...found, path };
}

/** A database writer deletes leaf `index` and the ways to find it, before any checkpoint holds it. */
async function dropLeaf(campaign: Campaign, index: number): Promise<void> {
  const { Leaf, Alias } = transparencyModels(app.deps.db);
  const leaf = (await Leaf.findById(leafId(String(campaign._id), index)).lean<LogLeaf>())!;
  await Leaf.deleteOne({ _id: leaf._id });
  await Alias.deleteMany({
    _id: { $in: [recordAlias(leaf.record), commitmentAlias(leaf.campaignId, leaf.commitment)] },
  });
  forgetLoadedLogs(app.deps.db);
}

describe('attacks 1 to 3, seen by the verifier with memory', () => {
  /** A drive with a starting offset of 20 and two joins, checkpointed and verified once (remembered). */
  async function driveAt22() {
    const campaign = await newCampaign(app, { startingOffset: 20 });
    await joins(2);
    await checkpoint(app, campaign);
    const state = file('state.json');
    const first = await cli(campaign, state);
    expect(first.out).toContain('count:         22');
    expect(first.code).toBe(EXIT.ok);
    return { campaign, state };
  }

  it('attack 1: when an editor moves the starting offset from 20 to 40 through the staff API, then the verifier with memory still passes and names the change since the checkpoint it saw: amount, reason, date and hashed staff id', async () => {
    const { campaign, state } = await driveAt22();
    const editor = await staffToken(app.url, app.deps.db, 'editor');
    clock.advance(5 * 60_000);
    const changedAt = clock.now().toISOString();
    const patched = await fetch(`${app.url}/campaigns/${campaign.slug}`, {
      method: 'PATCH',
      headers: { authorization: editor.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ startingOffset: 40, offsetReason: 'print subscribers counted too' }),
    });
    expect(patched.status).toBe(200);
    clock.advance(5 * 60_000);
    expect(await checkpoint(app, campaign)).toMatchObject({ sequence: 1, count: 42, offset: 40 });

    const run = await cli(campaign, state);
    const staffId = (await staffModels(app.deps.db).StaffUser.findOne({ email: 'editor@newsroom.example' }))!
      ._id;
    const staff = staffHash(String(campaign._id), String(staffId));
    expect(run.out).toContain(
      [
        "offset:        40 (the sum of the log's offset entries)",
        'Offset changes since the checkpoint you last saw (number 0, 3 entries):',
        `  +20 (reason: "print subscribers counted too") on ${changedAt}, by staff ${staff}, entry 3, checkpoint 1`,
        'count:         42',
      ].join('\n'),
    );
    expect(run.out).not.toContain('not verifiable');
    expect(run.out).not.toContain('PROBLEM');
    expect(run.code).toBe(EXIT.ok);
    // Seen once, the change is not news the next time.
    const again = await cli(campaign, state);
    expect(again.out).toContain('offset changes: none since the checkpoint you last saw (number 1)');
    expect(again.code).toBe(EXIT.ok);
  });

  it('attack 1: when a checkpoint re-signed with the real key claims an offset of 40, count and sum agreeing, then the verifier refuses it', async () => {
    const { campaign, state } = await driveAt22();
    await joins(1);
    const newest = (await checkpoint(app, campaign))!;
    const fields = { ...parseCheckpointText(parseNote(newest.note)!.text)! };
    fields.offset_claimed = 40;
    fields.count = 43;
    const note = createSigner(app.deps.config.transparency.keys).signNote(
      checkpointText(fields),
      fields.origin,
    );
    await transparencyModels(app.deps.db).Checkpoint.updateOne(
      { _id: newest._id },
      { $set: { note, hash: noteTextHash(note), count: 43, offset: 40 } },
    );
    forgetCheckpoints(app.deps.db);
    const run = await cli(campaign, state);
    expect(run.out).toContain(
      `PROBLEM: checkpoint ${newest.sequence}: the offset (40) is not what the offset leaves state (20)`,
    );
    expect(run.out).toContain('NOT verified');
    expect(run.code).toBe(EXIT.problems);
  });

  it('attack 2: when two addition leaves are inserted into the database and the service signs over them, then the verifier refuses both', async () => {
    const { campaign, state } = await driveAt22();
    const id = String(campaign._id);
    const size = await logSize(app.deps.db, id);
    await app.deps.db.collection('drive_log_leaves').insertMany(
      [0, 1].map((n) => ({
        _id: leafId(id, size + n),
        campaignId: id,
        index: size + n,
        kind: 'add',
        record: `${id}|add|forged-${n}`,
        recordId: `forged-${n}`,
        salt: randomBytes(32).toString('hex'),
        commitment: randomBytes(32).toString('hex'),
        at: clock.now(),
      })) as never[],
    );
    clock.advance(10 * 60_000);
    expect(await checkpoint(app, campaign)).toMatchObject({ count: 24 }); // the service does not notice
    const run = await cli(campaign, state);
    expect(run.out).toContain(`PROBLEM: leaf ${size} has no signed promise`);
    expect(run.out).toContain(`PROBLEM: leaf ${size + 1} has no signed promise`);
    expect(run.code).toBe(EXIT.problems);
  });

  it('attack 3: when 25 marks are inserted into tally_marks, then /progress and the verifier both still say 22', async () => {
    const { campaign, state } = await driveAt22();
    const tally = contributionTally(campaign._id);
    await app.deps.db.collection('tally_marks').insertMany(
      Array.from({ length: 25 }, (_, i) => ({
        _id: `${tally}:${3 + i}`,
        record: `${tally}|forged-${i}`,
        at: clock.now(),
      })) as never[],
    );
    const progress = await (await fetch(`${app.url}/campaigns/${campaign.slug}/progress`)).json();
    expect(progress).toMatchObject({ count: 22, pending: 0, checkpoint: { count: 22 } });
    const run = await cli(campaign, state);
    expect(run.out).toContain('count:         22');
    expect(run.code).toBe(EXIT.ok);
  });
});

describe('attack 5b: a split view between two processes', () => {
  it('when after a restore a long-running process serves checkpoint 1 of 20 entries and a fresh one checkpoint 1 of 15, then a reader who saw the first refuses the second, while a new reader cannot tell', async () => {
    const campaign = await newCampaign(app);
    await joins(14);
    await checkpoint(app, campaign); // number 0: 15 entries
    await joins(5);
    await checkpoint(app, campaign); // number 1: 20 entries, which this process keeps in memory
    const state = file('state.json');
    expect((await cli(campaign, state)).code).toBe(EXIT.ok);
    const remembered = await readFile(state, 'utf8');

    // The database comes back from the backup of 15 entries; the running process is not told.
    const { Leaf, Checkpoint } = transparencyModels(app.deps.db);
    await Leaf.deleteMany({ campaignId: String(campaign._id), index: { $gte: 15 } });
    await Checkpoint.deleteMany({ campaignId: String(campaign._id), treeSize: { $gt: 15 } });
    const { other, close } = await secondProcess();
    try {
      await signCheckpoint(depsOf(other), campaign, { force: true }); // number 1 again: 15 entries
      const old = await (
        await fetch(`${app.url}/campaigns/${campaign.slug}/transparency/checkpoints`)
      ).json();
      const fresh = await (
        await fetch(`${other.url}/campaigns/${campaign.slug}/transparency/checkpoints`)
      ).json();
      expect(old.checkpoints.map((c: { treeSize: number }) => c.treeSize)).toEqual([15, 20]);
      expect(fresh.checkpoints.map((c: { treeSize: number }) => c.treeSize)).toEqual([15, 15]);
      expect((await verify(other, campaign)).problems).toEqual([]); // alone, each view passes
      expect((await cli(campaign, file('state.json'), [], other)).code).toBe(EXIT.ok);

      const run = await cli(campaign, state, [], other);
      expect(run.out).toContain(
        'PROBLEM: the log went back: its newest checkpoint is number 1 of 15 entries; number 1 of 20 entries was verified before',
      );
      expect(run.out).toContain('REFUSED: rollback');
      expect(run.code).toBe(EXIT.rollback);
      expect(await readFile(state, 'utf8')).toBe(remembered);

      // Five other joins fill the fresh view to 20 entries again: the same size, another root.
      await joins(5, other.deps.db);
      await signCheckpoint(depsOf(other), campaign, { force: true });
      const forked = await cli(campaign, state, [], other);
      expect(forked.out).toContain(
        'PROBLEM: a different tree of 20 entries was verified before: the log forked',
      );
      expect(forked.code).toBe(EXIT.fork);
    } finally {
      await close();
      forgetLoadedLogs(app.deps.db);
      forgetCheckpoints(app.deps.db);
    }
  });
});

describe('attack 6: a receipt is not a promise', () => {
  it('when the member’s leaf is checkpointed in time, then the verifier given their promise says it was kept', async () => {
    const campaign = await newCampaign(app);
    await joins(2);
    await checkpoint(app, campaign);
    const [member] = await joins(1);
    const kept = await keptBy(campaign, member!);
    const before = await cli(campaign, file('state.json'), ['--promise', kept.path]);
    expect(before.out).toContain(`promise:       pending (leaf ${kept.index}, merge by `);
    expect(before.code).toBe(EXIT.ok);
    clock.advance(10 * 60_000);
    await checkpoint(app, campaign);
    const run = await cli(campaign, file('state.json'), [kept.receipt, '--promise', kept.path]);
    expect(run.out).toContain(`promise:       kept (leaf ${kept.index}, merge by `);
    expect(run.out).toContain('receipt:       verified');
    expect(run.code).toBe(EXIT.ok);
  });

  it('when a promised leaf is deleted before its checkpoint and a later join takes its place, then the log still verifies, and the verifier given the promise refuses a broken promise', async () => {
    const campaign = await newCampaign(app);
    await joins(2);
    await checkpoint(app, campaign);
    const state = file('state.json');
    expect((await cli(campaign, state)).code).toBe(EXIT.ok);
    const [member] = await joins(1);
    const kept = await keptBy(campaign, member!);

    await dropLeaf(campaign, kept.index);
    // A restarted process finds the end of the log at the gap, and the next member fills it.
    const { other, close } = await secondProcess();
    try {
      await joins(1, other.deps.db);
    } finally {
      await close();
    }
    expect(await logSize(app.deps.db, String(campaign._id))).toBe(kept.index + 1);
    clock.advance(10 * 60_000);
    await checkpoint(app, campaign);

    const unaware = await cli(campaign, state);
    expect(unaware.code).toBe(EXIT.ok); // every leaf has its own promise: nothing else shows it
    const run = await cli(campaign, state, ['--promise', kept.path]);
    expect(run.out).toContain(`PROBLEM: the log promised leaf ${kept.index} (`);
    expect(run.out).toMatch(/checkpoint \d+ holds another leaf there: the promised leaf was dropped/);
    expect(run.out).toContain('REFUSED: broken promise');
    expect(run.code).toBe(EXIT.brokenPromise);
    const withReceipt = await cli(campaign, file('state.json'), [kept.receipt, '--promise', kept.path]);
    expect(withReceipt.out).toContain('receipt:       unchecked');
    expect(withReceipt.code).toBe(EXIT.brokenPromise);
  });

  it('when a promised leaf is deleted and nothing takes its place, then before merge_by the promise is pending, and after it the verifier refuses a broken promise', async () => {
    const campaign = await newCampaign(app);
    await joins(2);
    await checkpoint(app, campaign);
    const [member] = await joins(1);
    const kept = await keptBy(campaign, member!);
    await dropLeaf(campaign, kept.index);
    clock.advance(60 * 60_000);
    await checkpoint(app, campaign);
    const early = await cli(campaign, file('state.json'), ['--promise', kept.path]);
    expect(early.out).toContain('promise:       pending');
    expect(early.code).toBe(EXIT.ok);

    clock.advance(24 * 60 * 60_000);
    await checkpoint(app, campaign); // the service signs on, hourly, without the leaf
    const run = await cli(campaign, file('state.json'), ['--promise', kept.path]);
    expect(run.out).toMatch(
      new RegExp(`PROBLEM: the log promised leaf ${kept.index} \\(.*\\) by .*, and no checkpoint holds it`),
    );
    expect(run.out).toContain('REFUSED: broken promise');
    expect(run.code).toBe(EXIT.brokenPromise);
  });

  it('when the promise given is of another campaign’s log, then the verifier says so and does not pass', async () => {
    const mine = await newCampaign(app);
    const other = await newCampaign(app);
    const [member] = await joins(1);
    const kept = await keptBy(mine, member!);
    await checkpoint(app, other);
    const run = await cli(other, file('state.json'), ['--promise', kept.path]);
    expect(run.out).toContain('promise:       invalid');
    expect(run.out).toContain('PROBLEM: the promise is for another log');
    expect(run.code).toBe(1);
  });
});

describe('attack 3, the running total: a leaf’s stored total edited in the database', () => {
  it('when the newest leaf’s total is raised by 25, then /progress, the next checkpoint and the verifier all keep the count the leaves give', async () => {
    const campaign = await newCampaign(app);
    await joins(4);
    await checkpoint(app, campaign);
    await joins(1);
    const id = String(campaign._id);
    const size = await logSize(app.deps.db, id);
    const { Leaf } = transparencyModels(app.deps.db);
    await Leaf.updateOne({ _id: leafId(id, size - 1) }, { $inc: { total: 25 } });
    await joins(1); // a later leaf takes its running total from the edited one

    const progress = async () =>
      (await (await fetch(`${app.url}/campaigns/${campaign.slug}/progress`)).json()) as {
        count: number;
        pending: number;
      };
    expect(await progress()).toMatchObject({ count: 6, pending: 2 });
    clock.advance(10 * 60_000);
    expect(await checkpoint(app, campaign)).toMatchObject({ count: 6 });
    expect(await progress()).toMatchObject({ count: 6, pending: 0 });
    const state = file('state.json');
    const run = await cli(campaign, state);
    expect(run.out).toContain('count:         6');
    expect(run.code).toBe(EXIT.ok);
  });
});
