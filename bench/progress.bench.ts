import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import type autocannon from 'autocannon';
import { campaignModels } from '../src/campaigns/campaign.model.js';
import { fromRoot } from '../src/infra/paths.js';
import { benchDatabase, listen, saveResult, startBenchApp } from './support.js';

// The public progress endpoint (the cached fast path before Express: helmet's headers, request id,
// latency metric) against a bare Node http server answering the same JSON bytes, 100 connections
// each, same run. The machine is shared, so the two take turns (a short warm-up each, then
// alternating rounds) and a load spike from elsewhere lands on both rather than on one. Rounds
// swing by ±20% here, so the ratio is the median of the rounds' pairwise ratios (one spike moves
// it little); the ratio of all requests together is reported beside it.

const CONNECTIONS = 100;
const LIGHT_CONNECTIONS = 10;
const ROUNDS = 6;
const ROUND_SECONDS = 4;
const WARM_UP_SECONDS = 2;

/** Load comes from a separate process, so the generator does not compete with the server for its core. */
async function load(url: string, seconds: number, connections = CONNECTIONS) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      fromRoot('node_modules/autocannon/autocannon.js'),
      '-c',
      String(connections),
      '-d',
      String(seconds),
      '-j',
      url,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as autocannon.Result;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { requests: result.requests.total, seconds, p50ms: result.latency.p50, p99ms: result.latency.p99 };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Rounds together: requests per second over all of them; the median round's p50 and the worst p99. */
function combine(rounds: Awaited<ReturnType<typeof load>>[]) {
  const requests = rounds.reduce((sum, round) => sum + round.requests, 0);
  const seconds = rounds.reduce((sum, round) => sum + round.seconds, 0);
  const p50s = rounds.map((round) => round.p50ms).sort((a, b) => a - b);
  return {
    requestsPerSecond: Math.round(requests / seconds),
    p50ms: p50s[Math.floor(p50s.length / 2)]!,
    p99ms: Math.max(...rounds.map((round) => round.p99ms)),
    p99sMs: rounds.map((round) => round.p99ms),
  };
}

export async function progressBenchmark() {
  const database = await benchDatabase('progress');
  await campaignModels(database.db).Campaign.create({
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    goal: 1000,
    startsAt: new Date(Date.now() - 86_400_000),
    endsAt: new Date(Date.now() + 9 * 86_400_000),
    timeZone: 'UTC',
    startingOffset: 612,
  });
  const { url: appBase, server: appServer } = await startBenchApp(database.db);
  const appUrl = `${appBase}/campaigns/birthday/progress`;
  const body = Buffer.from(await (await fetch(appUrl)).arrayBuffer());
  const bare = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
  const bareUrl = await listen(bare);

  await load(bareUrl, WARM_UP_SECONDS);
  await load(appUrl, WARM_UP_SECONDS);
  const bareRounds: Awaited<ReturnType<typeof load>>[] = [];
  const progressRounds: Awaited<ReturnType<typeof load>>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    bareRounds.push(await load(bareUrl, ROUND_SECONDS));
    progressRounds.push(await load(appUrl, ROUND_SECONDS));
  }
  // Latency at a lighter load too: a CDN in front asks the origin far fewer at a time than 100.
  const light = {
    bare: await load(bareUrl, ROUND_SECONDS, LIGHT_CONNECTIONS),
    progress: await load(appUrl, ROUND_SECONDS, LIGHT_CONNECTIONS),
  };
  const baseline = combine(bareRounds);
  const progress = combine(progressRounds);
  appServer.close();
  bare.close();
  await database.close();

  const result = {
    connections: CONNECTIONS,
    rounds: `${ROUNDS} × ${ROUND_SECONDS} s each, alternating`,
    bareNodeRequestsPerSecond: baseline.requestsPerSecond,
    bareNodeP50ms: baseline.p50ms,
    bareNodeP99ms: baseline.p99ms,
    bareNodeP99sMs: baseline.p99sMs.join(', '),
    progressRequestsPerSecond: progress.requestsPerSecond,
    progressP50ms: progress.p50ms,
    progressP99ms: progress.p99ms,
    progressP99sMs: progress.p99sMs.join(', '),
    p99Ratio: Math.round((progress.p99ms / baseline.p99ms) * 100) / 100,
    ratio:
      Math.round(median(progressRounds.map((round, i) => round.requests / bareRounds[i]!.requests)) * 1000) /
      1000,
    ratioOfTotals: Math.round((progress.requestsPerSecond / baseline.requestsPerSecond) * 1000) / 1000,
    lightConnections: LIGHT_CONNECTIONS,
    lightBareNodeP99ms: light.bare.p99ms,
    lightProgressP99ms: light.progress.p99ms,
    targets: 'ratio >= 0.75, p99 <= 10 ms',
  };
  saveResult('progress', result);
  return result;
}
