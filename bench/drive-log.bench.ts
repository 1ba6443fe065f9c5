import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { type Campaign, campaignModels } from '../src/campaigns/campaign.model.js';
import { signCheckpoint } from '../src/campaigns/drive-log/checkpoint.service.js';
import { type LogLeaf, leafId, recordKey, transparencyModels } from '../src/campaigns/drive-log/log.model.js';
import {
  commitmentOf,
  ensureStartingOffset,
  leafDataOf,
  logContribution,
  writeAliases,
} from '../src/campaigns/drive-log/log.service.js';
import { promiseFor, useLeafSigner } from '../src/campaigns/drive-log/promises.js';
import { createSigner } from '../src/campaigns/drive-log/signing.js';
import { loadLog } from '../src/campaigns/drive-log/tree-cache.js';
import { loadConfig } from '../src/config/config.js';
import { systemClock } from '../src/infra/clock.js';
import { createLogger } from '../src/infra/logger.js';
import { registerModels } from '../src/models.js';
import { TEST_ENV } from '../test/support/test-app.js';
import { benchDatabase, saveResult, startBenchApp, timed } from './support.js';

// The drive log at a large campaign's size: LEAVES leaves, the first APPENDS appended through the
// log's own append function (`logContribution`, the call every counted join makes: its signed
// promise, running total and lookups) to time it, the rest inserted in batches built the same way,
// a checkpoint every CHECKPOINT_EVERY leaves as the signer makes them. Then what a
// freshly started process pays for its first proof (it has nothing of the log in memory: tiles,
// read by `_id`), against the same process once its memory is warm and against one `_id` read, the
// floor of any answer, all measured in this run.
//   npm run bench -- drive-log            (BENCH_DRIVE_LOG_LEAVES=20000 for a shorter run)

const LEAVES = Number(process.env.BENCH_DRIVE_LOG_LEAVES ?? 100_000);
const CHECKPOINT_EVERY = 10_000;
const APPENDS = Number(process.env.BENCH_DRIVE_LOG_APPENDS ?? 3000);
const BATCH = 1000;
const FRESH_PROCESSES = 7;
const PROOFS = 300;
const OLD_PATH_SECONDS = 10;

const round = (n: number) => Math.round(n * 10) / 10;
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const median = (values: number[]) => percentile(values, 50);

export async function driveLogBenchmark() {
  const database = await benchDatabase('drive-log');
  const { db } = database;
  const env = { ...TEST_ENV, LOG_LEVEL: 'silent' };
  const config = loadConfig(env);
  const signer = createSigner(config.transparency.keys);
  useLeafSigner(db, { signer, publicBaseUrl: config.http.publicBaseUrl });
  const deps = {
    db,
    clock: systemClock,
    logger: createLogger({ level: 'silent' }),
    signer,
    checkpointMs: config.transparency.checkpointMs,
    publicBaseUrl: config.http.publicBaseUrl,
  };
  const campaign = (
    await campaignModels(db).Campaign.create({
      slug: 'birthday',
      title: 'A large drive',
      goal: 200_000,
      startsAt: new Date(Date.now() - 86_400_000),
      endsAt: new Date(Date.now() + 30 * 86_400_000),
      timeZone: 'UTC',
      startingOffset: 0,
    })
  ).toObject() as Campaign;
  const campaignId = String(campaign._id);
  await ensureStartingOffset(db, campaign);
  const closing: (() => Promise<unknown>)[] = [];
  try {
    // Appends through the log's own append function, one at a time (appends to one log take turns
    // in a process anyway): what a counted join costs.
    const appended = Math.min(LEAVES - 1, APPENDS);
    const appendMs = (
      await timed(async () => {
        for (let i = 1; i <= appended; i++)
          await logContribution(db, campaignId, `c:${i}`, new Date(), { fresh: true });
      })
    ).ms;
    console.log(`appended ${appended} leaves (${Math.round((appended / appendMs) * 1000)} appends/s)`);
    // The rest in batches, each leaf built as the append function builds it (signed promise, running
    // total, lookups): the append path runs at the rate above, too slow to seed 100,000 in a run.
    let signMs = 0;
    for (let size = appended + 1; size < LEAVES; ) {
      const to = Math.min(LEAVES, size + BATCH, Math.floor(size / CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY);
      const batch = await Promise.all(
        Array.from({ length: to - size }, (_, i) => leafLikeAppended(db, campaignId, size + i)),
      );
      await transparencyModels(db).Leaf.insertMany(batch);
      await writeAliases(db, batch);
      size = to;
      if (size % CHECKPOINT_EVERY === 0 || size === LEAVES) {
        signMs += (await timed(() => signCheckpoint(deps, campaign, { force: true }))).ms;
        console.log(`seeded and signed ${size} leaves`);
      }
    }
    if (appended === LEAVES - 1)
      signMs += (await timed(() => signCheckpoint(deps, campaign, { force: true }))).ms;
    const leaves = await loadLog(db, campaignId, LEAVES);
    const commitmentAt = (index: number) => leaves.leaves[index]!.commitment;
    const pick = () => 1 + Math.floor(Math.random() * (LEAVES - 1));

    // A fresh process: a new connection (every cache of the log is per connection) and the real app.
    const freshApp = async () => {
      const other = await mongoose.createConnection(database.uri).asPromise();
      registerModels(other);
      const app = await startBenchApp(other, env);
      closing.push(async () => {
        app.server.close();
        await other.close();
      });
      return { url: `${app.url}/campaigns/birthday/transparency`, db: other };
    };
    const first: number[] = [];
    const firstConsistency: number[] = [];
    for (let i = 0; i < FRESH_PROCESSES; i++) {
      const { url } = await freshApp();
      await fetch(`${url}/checkpoint`); // the app and its connection up; the log itself untouched
      first.push((await timed(() => get(`${url}/inclusion?commitment=${commitmentAt(pick())}`))).ms);
      firstConsistency.push(
        (await timed(() => get(`${url}/consistency?first=${pick()}&second=${LEAVES}`))).ms,
      );
    }
    // The same fresh process keeps answering from tiles (nothing loads its memory of the log).
    const { url: tilesUrl } = await freshApp();
    const fromTiles: number[] = [];
    for (let i = 0; i < PROOFS; i++)
      fromTiles.push((await timed(() => get(`${tilesUrl}/inclusion?commitment=${commitmentAt(pick())}`))).ms);
    // A process with the log in memory (the seeding one): the fastest a proof can be.
    const { url: warmUrl } = await startBenchApp(db, env).then((app) => {
      closing.push(async () => app.server.close());
      return { url: `${app.url}/campaigns/birthday/transparency` };
    });
    const warm: number[] = [];
    for (let i = 0; i < PROOFS; i++)
      warm.push((await timed(() => get(`${warmUrl}/inclusion?commitment=${commitmentAt(pick())}`))).ms);
    // One read by `_id`, the floor under any answer from the database.
    const idRead: number[] = [];
    for (let i = 0; i < PROOFS; i++)
      idRead.push(
        (await timed(() => transparencyModels(db).Leaf.findById(leafId(campaignId, pick())).lean<LogLeaf>()))
          .ms,
      );
    // Before tiles a fresh process read every leaf by `_id` first: time-boxed, extrapolated.
    const old = await oldFirstProof(freshApp, campaignId);

    const printed = {
      leaves: LEAVES,
      seededThrough: `${appended} through logContribution, the rest in batches of ${BATCH} built as it builds them`,
      appendsPerSecond: round((appended / appendMs) * 1000),
      checkpointSignSecondsTotal: round(signMs / 1000),
      freshFirstInclusionMedianMs: round(median(first)),
      freshFirstInclusionMaxMs: round(Math.max(...first)),
      freshFirstConsistencyMedianMs: round(median(firstConsistency)),
      tilesInclusionP50Ms: round(median(fromTiles)),
      tilesInclusionP99Ms: round(percentile(fromTiles, 99)),
      warmInclusionP50Ms: round(median(warm)),
      warmInclusionP99Ms: round(percentile(warm, 99)),
      idReadP50Ms: round(median(idRead)),
      ratioFreshFirstToIdRead: round(median(first) / median(idRead)),
      oldFreshFirstProofSecondsExtrapolated: round(old.extrapolatedSeconds),
      oldPathLeavesPerSecond: round(old.leavesPerSecond),
    };
    saveResult('drive-log', { ...printed, first, firstConsistency });
    return printed;
  } finally {
    for (const close of closing) await close();
    await database.close();
  }
}

/** Leaf `index` (an addition) as `logContribution` writes it, for a log with offset 0 and additions only. */
async function leafLikeAppended(
  db: mongoose.Connection,
  campaignId: string,
  index: number,
): Promise<LogLeaf> {
  const recordId = `c:${index}`;
  const salt = randomBytes(32).toString('hex');
  const fields = { kind: 'add' as const, commitment: commitmentOf(campaignId, 'add', recordId, salt) };
  const promise = await promiseFor(db, campaignId, index, leafDataOf(fields));
  return {
    _id: leafId(campaignId, index),
    campaignId,
    index,
    record: recordKey(campaignId, 'add', recordId),
    recordId,
    salt,
    ...fields,
    ...(promise === undefined ? {} : { promise }),
    total: index, // offset 0, then one addition per leaf
    at: new Date(),
  };
}

async function get(url: string) {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The path before tiles: a fresh process loads every leaf by `_id` before its first proof. */
async function oldFirstProof(
  freshApp: () => Promise<{ db: mongoose.Connection }>,
  campaignId: string,
): Promise<{ leavesPerSecond: number; extrapolatedSeconds: number }> {
  const { db } = await freshApp();
  const start = Date.now();
  let read = 0;
  while (Date.now() - start < OLD_PATH_SECONDS * 1000 && read < LEAVES) {
    read = Math.min(LEAVES, read + 100);
    await loadLog(db, campaignId, read);
  }
  const leavesPerSecond = (read / (Date.now() - start)) * 1000;
  return { leavesPerSecond, extrapolatedSeconds: LEAVES / leavesPerSecond };
}
