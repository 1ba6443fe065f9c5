import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Types } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deep } from '../support/depth.js';
import { staffToken } from '../support/staff.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// 50,000 every day, already over the bound if the export held them (about 1 KB each as objects);
// a deep run exports 100,000 (docs/testing.md). CSV_MEMORY_MEMBERS sets it.
const MEMBERS = Number(process.env.CSV_MEMORY_MEMBERS ?? Math.min(100_000, deep(50_000)));
const CHUNK = 5_000;
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
  const members = app.deps.db.collection('members');
  // Two chunks at a time: the database works on one while the next is sent.
  const starts = Array.from({ length: Math.ceil(MEMBERS / CHUNK) }, (_, n) => n * CHUNK);
  const insertFrom = async (start: number) =>
    members.insertMany(
      Array.from({ length: Math.min(CHUNK, MEMBERS - start) }, (_, k) => {
        const i = start + k;
        return {
          _id: new Types.ObjectId(),
          email: `member${i}@example.com`,
          name: `Member number ${i}`,
          locale: 'en',
          status: i % 7 ? 'active' : 'canceled',
          source: 'checkout',
          joinedAt: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
          joinedVia: `sub_${i}`,
        };
      }),
    );
  for (let n = 0; n < starts.length; n += 2) await Promise.all(starts.slice(n, n + 2).map(insertFrom));
}, 600_000);
afterAll(() => app.close());

it(`when ${MEMBERS.toLocaleString('en')} supporters are exported as CSV, then the heap does not grow with them`, async () => {
  const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
  // What the export keeps alive, not garbage waiting for the collector: collect, then measure.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  // Every half second: each sample is a full collection (~100 ms of CPU in a worker that has loaded
  // the program), and an export that held the rows would hold them for seconds (streaming 100,000
  // takes ~20 s), so no peak slips between two samples.
  const sampler = setInterval(() => {
    gc();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 500);

  const get = () => fetch(`${app.url}/reports/supporters?format=csv`, { headers: { authorization } });
  // The sign-in's keep-alive socket may be closing as the export reuses it (collections above
  // can outlast its idle time on a loaded machine): a GET is safe to send again.
  const res = await get().catch((error) =>
    error?.cause?.code === 'UND_ERR_SOCKET' ? get() : Promise.reject(error),
  );
  let lines = 0;
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    // A newline byte never occurs inside another UTF-8 character: count bytes, decode nothing.
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  }
  clearInterval(sampler);

  expect(res.status).toBe(200);
  expect(lines).toBe(MEMBERS + 1);
  // 50,000 members held at once would be well over 32 MB as objects; streaming keeps a batch.
  const growthMb = (peak - baseline) / 1024 / 1024;
  console.log(
    `CSV export: ${MEMBERS} rows, ${(bytes / 1024 / 1024).toFixed(1)} MB, heap growth ${growthMb.toFixed(1)} MB`,
  );
  expect(growthMb).toBeLessThan(32);
}, 600_000);
