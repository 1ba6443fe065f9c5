import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointText, parseCheckpointText, parseNote, verifyDrive } from '../../bin/drive-verify-core.mjs';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { contributionTally } from '../../src/campaigns/campaign.service.js';
import {
  checkpointsOf,
  forgetCheckpoints,
  noteTextHash,
} from '../../src/campaigns/drive-log/checkpoint.service.js';
import { type LogLeaf, leafId, transparencyModels } from '../../src/campaigns/drive-log/log.model.js';
import { logSize } from '../../src/campaigns/drive-log/log.service.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { forgetLoadedLogs } from '../../src/campaigns/drive-log/tree-cache.js';
import { staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, fetchFrom, memberJoins, verify } from './support.js';

// Issue 29's attacks on the count, replayed against a running service: an editor moving the
// starting offset, a database writer inserting leaves, and one inserting tally marks. Each must
// leave the count unmoved or be refused by the verifier (bin/drive-verify-core.mjs).

let app: TestApp;
let auth: Record<string, string>;
let made = 0;

beforeAll(async () => {
  app = await startTestApp();
  auth = { authorization: (await staffToken(app.url, app.deps.db, 'editor')).authorization };
});
afterAll(() => app.close());

const api = (method: string, path: string, body?: unknown) =>
  fetch(`${app.url}${path}`, {
    method,
    headers: { ...auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** A drive created through the API with a starting offset of 20, two members joined, checkpointed. */
async function driveAt22(): Promise<Campaign> {
  const now = app.deps.clock.now().getTime();
  const slug = `attacked-${++made}-${randomBytes(3).toString('hex')}`;
  const created = await api('POST', '/campaigns', {
    slug,
    title: 'Birthday drive',
    goal: 1000,
    startsAt: new Date(now - 86_400_000).toISOString(),
    endsAt: new Date(now + 86_400_000).toISOString(),
    startingOffset: 20,
    offsetReason: 'members who joined by post before the drive',
  });
  expect(created.status).toBe(201);
  await memberJoins(app, app.deps.clock.now());
  await memberJoins(app, app.deps.clock.now());
  const campaign = (await campaignModels(app.deps.db).Campaign.findOne({ slug }).lean<Campaign>())!;
  expect(await checkpoint(app, campaign)).toMatchObject({ count: 22, offset: 20 });
  return campaign;
}

const latestOf = async (campaign: Campaign) =>
  (await checkpointsOf(app.deps.db, String(campaign._id))).at(-1)!;
const pinOf = async (campaign: Campaign) => {
  const { sequence, hash } = await latestOf(campaign);
  return { sequence, hash };
};
const verifyPinned = (campaign: Campaign, pin: { sequence: number; hash: string }) =>
  verifyDrive({ fetchJson: fetchFrom(app), slug: campaign.slug, pinned: [pin], now: app.deps.clock.now() });

describe('attack 1: moving the starting offset', () => {
  it('when an editor changes the starting offset, then the count moves only by an offset leaf the pinned verifier shows, with who (hashed) and why', async () => {
    const campaign = await driveAt22();
    const pin = await pinOf(campaign);
    const patched = await api('PATCH', `/campaigns/${campaign.slug}`, {
      startingOffset: 40,
      offsetReason: 'print subscribers counted too',
    });
    expect(patched.status).toBe(200);
    expect(await checkpoint(app, campaign)).toMatchObject({ count: 42, offset: 40 });

    const result = await verifyPinned(campaign, pin);
    expect(result.problems).toEqual([]);
    expect(result.offsets).toEqual([
      {
        index: 0,
        amount: 20,
        staff: expect.stringMatching(/^[0-9a-f]{64}$/),
        reason: expect.any(String),
        time: expect.stringMatching(/^\d{4}-/),
        checkpoint: 0,
      },
      {
        index: 3,
        amount: 20,
        staff: expect.stringMatching(/^[0-9a-f]{64}$/),
        reason: 'print subscribers counted too',
        time: expect.stringMatching(/^\d{4}-/),
        checkpoint: 1,
      },
    ]);
    expect(JSON.stringify(result.offsets)).not.toMatch(/@|editor/);
  });

  it('when the stored starting offset is changed straight in the database, then neither the progress nor the next checkpoint moves', async () => {
    const campaign = await driveAt22();
    await campaignModels(app.deps.db).Campaign.updateOne(
      { _id: campaign._id },
      { $set: { startingOffset: 40 } },
    );
    const moved = { ...campaign, startingOffset: 40 };
    expect(await checkpoint(app, moved)).toMatchObject({ count: 22, offset: 20 });
    const progress = await (await fetch(`${app.url}/campaigns/${campaign.slug}/progress`)).json();
    expect(progress).toMatchObject({ count: 22, pending: 0, checkpoint: { count: 22 } });
    expect((await verify(app, campaign)).problems).toEqual([]);
  });

  it('when a checkpoint re-signed with the real key claims another offset than the leaves, count and sum agreeing, then the pinned verifier refuses it', async () => {
    const campaign = await driveAt22();
    const pin = await pinOf(campaign);
    await memberJoins(app, app.deps.clock.now());
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
    const result = await verifyPinned(campaign, pin);
    expect(result.problems).toEqual([
      `checkpoint ${newest.sequence}: the offset (40) is not what the offset leaves state (20)`,
    ]);
    expect(result.ok).toBe(false);
  });
});

describe('attack 2: leaves written straight into the database', () => {
  it('when two addition leaves are inserted into drive_log_leaves and the service signs over them, then the verifier refuses both', async () => {
    const campaign = await driveAt22();
    const pin = await pinOf(campaign);
    const id = String(campaign._id);
    const size = await logSize(app.deps.db, id);
    const forged: LogLeaf[] = [0, 1].map((n) => ({
      _id: leafId(id, size + n),
      campaignId: id,
      index: size + n,
      kind: 'add',
      record: `${id}|add|forged-${n}`,
      recordId: `forged-${n}`,
      salt: randomBytes(32).toString('hex'),
      commitment: randomBytes(32).toString('hex'),
      at: app.deps.clock.now(),
    }));
    await app.deps.db.collection('drive_log_leaves').insertMany(forged as never[]);
    // The service does not notice: its next checkpoint counts them.
    expect(await checkpoint(app, campaign)).toMatchObject({ count: 24, treeSize: size + 2 });
    const result = await verifyPinned(campaign, pin);
    expect(result.problems).toEqual([
      `leaf ${size} has no signed promise`,
      `leaf ${size + 1} has no signed promise`,
    ]);
    expect(result.ok).toBe(false);
  });

  it('when an inserted leaf copies a real leaf’s promise, then the verifier refuses it as not the leaf promised', async () => {
    const campaign = await driveAt22();
    const id = String(campaign._id);
    const size = await logSize(app.deps.db, id);
    const { Leaf } = transparencyModels(app.deps.db);
    const real = (await Leaf.findById(leafId(id, size - 1)).lean<LogLeaf>())!;
    await app.deps.db.collection('drive_log_leaves').insertOne({
      ...real,
      _id: leafId(id, size),
      index: size,
      record: `${id}|add|copied`,
      commitment: randomBytes(32).toString('hex'),
    } as never);
    forgetLoadedLogs(app.deps.db);
    await checkpoint(app, campaign);
    expect((await verify(app, campaign)).problems).toEqual([`leaf ${size} has a promise for another place`]);
  });
});

describe('attack 3: tally marks written straight into the database', () => {
  it('when 25 marks are inserted into tally_marks, then /progress still says the log’s count and names the checkpoint it shows, and the verifier agrees', async () => {
    const campaign = await driveAt22();
    const tally = contributionTally(campaign._id);
    await app.deps.db.collection('tally_marks').insertMany(
      Array.from({ length: 25 }, (_, i) => ({
        _id: `${tally}:${3 + i}`,
        record: `${tally}|forged-${i}`,
        at: app.deps.clock.now(),
      })) as never[],
    );
    const latest = await latestOf(campaign);
    const progress = await (await fetch(`${app.url}/campaigns/${campaign.slug}/progress`)).json();
    expect(progress).toMatchObject({
      count: 22,
      pending: 0,
      checkpoint: {
        sequence: latest.sequence,
        size: latest.treeSize,
        root: latest.note.split('\n')[2],
        count: 22,
      },
    });
    const result = await verify(app, campaign);
    expect(result.problems).toEqual([]);
    expect(result.latest).toMatchObject({
      count: progress.checkpoint.count,
      tree_size: progress.checkpoint.size,
    });
  });

  it('when a member joins after the latest checkpoint, then /progress counts them as pending beside the signed count', async () => {
    const campaign = await driveAt22();
    await memberJoins(app, app.deps.clock.now());
    const progress = await (await fetch(`${app.url}/campaigns/${campaign.slug}/progress`)).json();
    expect(progress).toMatchObject({ count: 23, pending: 1, checkpoint: { count: 22 } });
  });
});
