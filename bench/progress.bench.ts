import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import type autocannon from 'autocannon';
import { campaignModels } from '../src/campaigns/campaign.model.js';
import { fromRoot } from '../src/infra/paths.js';
import { benchDatabase, listen, saveResult, startBenchApp } from './support.js';

// The public progress endpoint (the whole Express stack: helmet, request id, logging off, cache)
// against a bare Node http server answering the same JSON bytes, 100 connections each, same run.

const CONNECTIONS = 100;
const SECONDS = 10;

/** Load comes from a separate process, so the generator does not compete with the server for its core. */
async function load(url: string) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      fromRoot('node_modules/autocannon/autocannon.js'),
      '-c',
      String(CONNECTIONS),
      '-d',
      String(SECONDS),
      '-j',
      url,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as autocannon.Result;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
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

  const baseline = await load(bareUrl);
  const progress = await load(appUrl);
  appServer.close();
  bare.close();
  await database.close();

  const result = {
    connections: CONNECTIONS,
    seconds: SECONDS,
    bareNodeRequestsPerSecond: baseline.requestsPerSecond,
    bareNodeP50ms: baseline.p50ms,
    bareNodeP99ms: baseline.p99ms,
    progressRequestsPerSecond: progress.requestsPerSecond,
    progressP50ms: progress.p50ms,
    progressP99ms: progress.p99ms,
    ratio: Math.round((progress.requestsPerSecond / baseline.requestsPerSecond) * 1000) / 1000,
    targets: 'ratio >= 0.75, p99 <= 10 ms',
  };
  saveResult('progress', result);
  return result;
}
