import mongoose from 'mongoose';
import { type Campaign, campaignModels } from '../src/campaigns/campaign.model.js';
import { signCheckpoint } from '../src/campaigns/drive-log/checkpoint.service.js';
import { type LogLeaf, leafId, transparencyModels } from '../src/campaigns/drive-log/log.model.js';
import { ensureStartingOffset, logContribution } from '../src/campaigns/drive-log/log.service.js';
import { useLeafSigner } from '../src/campaigns/drive-log/promises.js';
import { createSigner } from '../src/campaigns/drive-log/signing.js';
import { loadLog } from '../src/campaigns/drive-log/tree-cache.js';
import { loadConfig } from '../src/config/config.js';
import { systemClock } from '../src/infra/clock.js';
import { createLogger } from '../src/infra/logger.js';
import { registerModels } from '../src/models.js';
import { TEST_ENV } from '../test/support/test-app.js';
import { benchDatabase, saveResult, startBenchApp, timed } from './support.js';

// The drive log at a large campaign's size: LEAVES leaves appended through the log's own append
// function (`logContribution`, the call every counted join makes: its signed promise, running total
// and lookups), a checkpoint every CHECKPOINT_EVERY leaves as the signer makes them. Then what a
// freshly started process pays for its first proof (it has nothing of the log in memory: tiles,
// read by `_id`), against the same process once its memory is warm and against one `_id` read, the
// floor of any answer, all measured in this run.
//   npm run bench -- drive-log            (BENCH_DRIVE_LOG_LEAVES=20000 for a shorter run)

const LEAVES = Number(process.env.BENCH_DRIVE_LOG_LEAVES ?? 100_000);
const CHECKPOINT_EVERY = 10_000;
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
    // Seed: one append at a time, as appends to one log take turns in a process anyway.
    let appendMs = 0;
    let signMs = 0;
    for (let from = 1; from < LEAVES; from += CHECKPOINT_EVERY) {
      const to = Math.min(LEAVES, from + CHECKPOINT_EVERY);
      appendMs += (
        await timed(async () => {
          for (let i = from; i < to; i++)
            await logContribution(db, campaignId, `c:${i}`, new Date(), { fresh: true });
        })
      ).ms;
      signMs += (await timed(() => signCheckpoint(deps, campaign, { force: true }))).ms;
      console.log(`seeded ${to} leaves (${Math.round(((to - 1) / appendMs) * 1000)} appends/s)`);
    }
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
      seededThrough: 'logContribution, one at a time',
      appendsPerSecond: round(((LEAVES - 1) / appendMs) * 1000),
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
