import { createHash } from 'node:crypto';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaigns/campaign.model.js';
import { type LogLeaf, leafId, transparencyModels } from '../../src/campaigns/drive-log/log.model.js';
import { writeAliases } from '../../src/campaigns/drive-log/log.service.js';
import { type LogTile, tileModel } from '../../src/campaigns/drive-log/tile.model.js';
import { backfillTiles } from '../../src/campaigns/drive-log/tile-backfill.js';
import { loadLog } from '../../src/campaigns/drive-log/tree-cache.js';
import { registerModels } from '../../src/models.js';
import { databaseUri, manualClock, startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, newCampaign } from './support.js';

// A fresh process (a new connection: nothing of the log in memory) answers proofs from stored
// tiles: a few reads by `_id`, not the whole log. A tile that is missing (a crash before it was
// written) is rebuilt from the leaves; a stale one (a restored log) is never served.

let app: TestApp;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
const started: { app: TestApp; db: mongoose.Connection }[] = [];

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
});
afterAll(async () => {
  for (const other of started) {
    await other.app.close();
    await other.db.close();
  }
  await app.close();
});

const commitmentOf = (campaignId: string, index: number) =>
  createHash('sha256').update(`${campaignId} leaf ${index}`).digest('hex');

/** A campaign whose log holds `size` leaves (its offset leaf, then additions), signed at that size. */
async function campaignWithLeaves(size: number): Promise<{ campaign: Campaign; id: string }> {
  const campaign = await newCampaign(app);
  const id = String(campaign._id);
  const leaves: LogLeaf[] = Array.from({ length: size - 1 }, (_, i) => ({
    _id: leafId(id, i + 1),
    campaignId: id,
    index: i + 1,
    kind: 'add',
    record: `${id}|add|c:${i + 1}`,
    recordId: `c:${i + 1}`,
    salt: '00',
    commitment: commitmentOf(id, i + 1),
    total: i + 1,
    at: clock.now(),
  }));
  for (let at = 0; at < leaves.length; at += 500) {
    await transparencyModels(app.deps.db).Leaf.insertMany(leaves.slice(at, at + 500));
    await writeAliases(app.deps.db, leaves.slice(at, at + 500));
  }
  await checkpoint(app, campaign);
  return { campaign, id };
}

/** Another process on the same database: its own memory, and a record of every document it reads. */
async function freshProcess() {
  const db = await mongoose
    .createConnection(databaseUri(app.deps.db.name), { monitorCommands: true, autoIndex: false })
    .asPromise();
  registerModels(db);
  const reads: { collection: string; filter: unknown }[] = [];
  db.getClient().on('commandStarted', (event) => {
    if (event.commandName === 'find')
      reads.push({ collection: event.command.find, filter: event.command.filter });
  });
  const other = await startTestApp({ db, deps: { clock } });
  started.push({ app: other, db });
  const get = async (path: string) => {
    const res = await fetch(`${other.url}${path}`);
    expect(res.status).toBe(200);
    return res.json();
  };
  return { reads, get };
}

const hex = (hashes: Buffer[]) => hashes.map((h) => h.toString('hex'));
const treeOf = async (id: string, size: number) => (await loadLog(app.deps.db, id, size)).tree;
const storedTile = async (id: string, path: string) =>
  (await tileModel(app.deps.db).findById(`${id}/tile/${path}`).lean<LogTile>())?.hashes;
const bytes = (raw: unknown) =>
  raw === undefined ? undefined : Buffer.from((raw as { buffer: Uint8Array }).buffer).toString('hex');

describe('proofs from tiles', () => {
  it('when a fresh process is asked for an inclusion and a consistency proof at 5,000 leaves, then it answers the tree’s proofs reading fewer than 40 documents, each by _id', async () => {
    const { campaign, id } = await campaignWithLeaves(5000);
    const tree = await treeOf(id, 5000);
    const { reads, get } = await freshProcess();

    const inclusion = await get(
      `/campaigns/${campaign.slug}/transparency/inclusion?commitment=${commitmentOf(id, 1234)}`,
    );
    expect(inclusion).toMatchObject({ index: 1234, treeSize: 5000, leaf: { index: 1234, kind: 'add' } });
    expect(inclusion.path).toEqual(hex(tree.inclusionProof(1234, 5000)));
    const older = await get(
      `/campaigns/${campaign.slug}/transparency/inclusion?commitment=${commitmentOf(id, 4321)}&treeSize=4400`,
    );
    expect(older.path).toEqual(hex(tree.inclusionProof(4321, 4400)));
    const consistency = await get(
      `/campaigns/${campaign.slug}/transparency/consistency?first=1000&second=4999`,
    );
    expect(consistency.path).toEqual(hex(tree.consistencyProof(1000, 4999)));

    const logReads = reads.filter((read) => /^drive_/.test(read.collection));
    expect(logReads.length).toBeGreaterThan(0);
    expect(logReads.length).toBeLessThan(40);
    for (const read of logReads) {
      expect(Object.keys(read.filter as object)).toEqual(['_id']);
      expect(typeof (read.filter as { _id: unknown })._id).toBe('string');
    }
  }, 120_000); // seeding 5,000 leaves and signing over them takes a while on a shared machine

  it('when a tile was never written (a process died before it), then a fresh process still answers and writes the same tile again', async () => {
    const { campaign, id } = await campaignWithLeaves(700);
    const tree = await treeOf(id, 700);
    const before = bytes(await storedTile(id, '0/001'));
    expect(before).toHaveLength(256 * 64);
    await tileModel(app.deps.db).deleteOne({ _id: `${id}/tile/0/001` });

    const { reads, get } = await freshProcess();
    const inclusion = await get(
      `/campaigns/${campaign.slug}/transparency/inclusion?commitment=${commitmentOf(id, 300)}`,
    );
    expect(inclusion.path).toEqual(hex(tree.inclusionProof(300, 700)));
    expect(bytes(await storedTile(id, '0/001'))).toBe(before);
    // Rebuilt from its 256 leaves, not from the whole log.
    expect(reads.filter((read) => read.collection === 'drive_log_leaves').length).toBeLessThan(300);
  });

  it('when a stored tile is wrong (a log restored under newer tiles), then the proof served is still the leaves’ and the tile is rewritten', async () => {
    const { campaign, id } = await campaignWithLeaves(700);
    const tree = await treeOf(id, 700);
    const before = bytes(await storedTile(id, '0/000'));
    await tileModel(app.deps.db).updateOne(
      { _id: `${id}/tile/0/000` },
      { $set: { hashes: Buffer.alloc(256 * 32, 7) } },
    );

    const { get } = await freshProcess();
    const inclusion = await get(
      `/campaigns/${campaign.slug}/transparency/inclusion?commitment=${commitmentOf(id, 17)}`,
    );
    expect(inclusion.path).toEqual(hex(tree.inclusionProof(17, 700)));
    expect(bytes(await storedTile(id, '0/000'))).toBe(before);
  });

  it('when logs were signed before tiles, then the migration stores the tiles the signer would have, and proofs read them', async () => {
    const { campaign, id } = await campaignWithLeaves(600);
    const tree = await treeOf(id, 600);
    const Tile = tileModel(app.deps.db);
    const paths = ['0/000', '0/001', '0/002.p/88', '1/000.p/2'];
    const signed = await Promise.all(paths.map((path) => storedTile(id, path).then(bytes)));
    expect(signed.every((tile) => tile !== undefined)).toBe(true);
    await Tile.deleteMany({ _id: { $in: paths.map((path) => `${id}/tile/${path}`) } });

    expect(await backfillTiles(app.deps.db)).toBeGreaterThanOrEqual(paths.length);
    expect(await Promise.all(paths.map((path) => storedTile(id, path).then(bytes)))).toEqual(signed);
    const { reads, get } = await freshProcess();
    const inclusion = await get(
      `/campaigns/${campaign.slug}/transparency/inclusion?commitment=${commitmentOf(id, 599)}`,
    );
    expect(inclusion.path).toEqual(hex(tree.inclusionProof(599, 600)));
    expect(reads.filter((read) => read.collection === 'drive_log_leaves')).toHaveLength(1);
  });
});
