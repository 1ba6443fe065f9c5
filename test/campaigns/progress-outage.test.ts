import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { connectDatabase, ensureIndexes } from '../../src/infra/db.js';
import { registerModels } from '../../src/models.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The database goes away while the news site keeps showing the goal widget on every article.
// (The issue rehearsed 15 s; 6 s here keeps the suite quick and covers several cache lifetimes.)

let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let app: TestApp;

beforeAll(async () => {
  const server = new URL(inject('mongoUri'));
  proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port) });
  const db = await connectDatabase({
    uri: `mongodb://127.0.0.1:${proxy.port}/progress_outage_${Date.now()}?directConnection=true`,
    poolSize: 4,
    timeoutMs: 500,
  });
  registerModels(db);
  await ensureIndexes(db);
  for (const slug of ['birthday', 'never-read']) {
    await campaignModels(db).Campaign.create({
      slug,
      title: '1,000 new members for our birthday',
      goal: 1000,
      startsAt: new Date('2026-11-01T00:00:00Z'),
      endsAt: new Date('2026-11-30T00:00:00Z'),
      timeZone: 'UTC',
      startingOffset: 612,
    });
  }
  app = await startTestApp({
    db,
    config: testConfig({ PROGRESS_CACHE_SECONDS: '1', MONGODB_TIMEOUT_MS: '500' }),
  });
});
afterAll(async () => {
  await app.close();
  proxy.restore();
  await app.deps.db.dropDatabase().catch(() => {});
  await app.deps.db.close();
  await proxy.close();
});

async function timed(path: string) {
  const started = Date.now();
  const res = await fetch(`${app.url}${path}`);
  const body = await res.text();
  return { path, status: res.status, body, ms: Date.now() - started };
}

it('when the database is stopped, then progress, widget and SVG keep answering 200 with the last count within a second; a campaign never read answers 503 in the error shape', async () => {
  const fresh = await timed('/campaigns/birthday/progress');
  expect(JSON.parse(fresh.body)).toMatchObject({ count: 612 });
  expect((await timed('/campaigns/birthday/progress.svg')).status).toBe(200);
  expect((await timed('/campaigns/birthday/widget')).status).toBe(200);

  proxy.cut();
  const answers: Awaited<ReturnType<typeof timed>>[] = [];
  const started = Date.now();
  while (Date.now() - started < 6_000) {
    answers.push(
      ...(await Promise.all(
        [
          '/campaigns/birthday/progress',
          '/campaigns/birthday/progress.svg',
          '/campaigns/birthday/widget',
        ].map(timed),
      )),
    );
  }
  const unavailable = await timed('/campaigns/never-read/progress');

  expect(answers.length).toBeGreaterThan(15);
  expect(answers.filter((a) => a.status !== 200)).toEqual([]);
  expect(answers.filter((a) => a.ms > 1_000).map((a) => `${a.path} ${a.ms} ms`)).toEqual([]);
  for (const a of answers.filter((x) => x.path.endsWith('/progress')))
    expect(JSON.parse(a.body)).toMatchObject({ count: 612, percent: 61 });
  // Past the cache lifetime the answer says it is the last good one.
  expect(answers.some((a) => a.path.endsWith('/progress') && JSON.parse(a.body).stale === true)).toBe(true);
  for (const a of answers.filter((x) => x.path.endsWith('.svg'))) expect(a.body).toContain('612 of 1,000');

  expect(unavailable.status).toBe(503);
  expect(unavailable.ms).toBeLessThan(1_000);
  expect(JSON.parse(unavailable.body)).toEqual({
    error: { code: 'not_ready', message: expect.any(String), requestId: expect.any(String) },
  });

  proxy.restore();
  const deadline = Date.now() + 20_000;
  let back = await timed('/campaigns/birthday/progress');
  while (JSON.parse(back.body).stale && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    back = await timed('/campaigns/birthday/progress');
  }
  expect(JSON.parse(back.body)).toMatchObject({ count: 612 });
  expect(JSON.parse(back.body).stale).toBeUndefined();
}, 60_000);
