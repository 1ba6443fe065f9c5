import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Connection, Types } from 'mongoose';
import { membershipModels } from '../src/memberships/membership.model.js';
import { membersWithLatestSubscription } from '../src/reports/member-stream.js';
import { createStaffUser } from '../src/staff/staff-auth.service.js';
import { benchDatabase, saveResult, startBenchApp, timed } from './support.js';

// The supporters CSV export for 100,000 members (each with a subscription) over HTTP, against
// iterating the same database cursors and doing nothing with the documents. Both in this process,
// one after the other, each with its peak heap above a collected baseline.

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 100_000);
const RUNS = 3;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Runs `work` with the heap sampled every 20 ms; the peak is above a collected baseline. */
async function measured(work: () => Promise<number>) {
  gc();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 20);
  const { ms, result: rows } = await timed(work);
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  return { ms, rows, peakHeapMb: (peak - baseline) / 1024 / 1024 };
}

/**
 * The supporters CSV over HTTP against reading the same cursors (members by id, subscriptions by
 * member, paired as they stream) and building no rows, taking turns `runs` times. Also used by
 * the national bench (bench/national.bench.ts).
 */
export async function csvAgainstCursor(db: Connection, url: string, accessToken: string, runs: number) {
  const cursorOnly = async () => {
    let rows = 0;
    for await (const _pair of membersWithLatestSubscription(db)) rows++;
    return rows;
  };
  const csvOverHttp = async () => {
    const res = await fetch(`${url}/reports/supporters?format=csv`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    let lines = -1; // the header
    await pipeline(
      res.body as unknown as AsyncIterable<Uint8Array>,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const byte of chunk) if (byte === 10) lines++;
          done();
        },
      }),
    );
    return lines;
  };
  const cursor = [];
  const csv = [];
  for (let run = 0; run < runs; run++) {
    cursor.push(await measured(cursorOnly));
    csv.push(await measured(csvOverHttp));
  }
  return { cursor, csv };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function supportersCsvBenchmark() {
  const database = await benchDatabase('supporters_csv');
  const { Member, Subscription } = membershipModels(database.db);
  for (let start = 0; start < MEMBERS; start += 5_000) {
    const ids = Array.from({ length: Math.min(5_000, MEMBERS - start) }, () => new Types.ObjectId());
    await Member.collection.insertMany(
      ids.map((_id, k) => ({
        _id,
        email: `member${start + k}@example.com`,
        name: `Member number ${start + k}`,
        locale: 'en',
        status: 'active',
        source: 'checkout',
        joinedAt: new Date(Date.UTC(2026, 0, 1) + (start + k) * 60_000),
        joinedVia: `sub_${start + k}`,
        stripeCustomerId: `cus_${start + k}`,
      })),
    );
    await Subscription.collection.insertMany(
      ids.map((memberId, k) => ({
        _id: `sub_${start + k}` as never,
        memberId,
        customerId: `cus_${start + k}`,
        status: 'active',
        plan: k % 5 ? 'supporter' : 'patron',
        interval: k % 5 ? 'month' : 'year',
        amount: k % 5 ? 500 : 12_000,
        currency: 'eur',
        cancelAtPeriodEnd: false,
        lastEventCreated: 1,
        lastEventId: 'evt',
      })),
    );
  }
  const { url, server } = await startBenchApp(database.db);
  await createStaffUser(database.db, {
    email: 'bench@newsroom.example',
    name: 'Bench',
    role: 'finance',
    password: 'bench-password-123',
  });
  const signIn = await fetch(`${url}/staff/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@newsroom.example', password: 'bench-password-123' }),
  });
  const { accessToken } = (await signIn.json()) as { accessToken: string };

  const { cursor, csv } = await csvAgainstCursor(database.db, url, accessToken, RUNS);
  server.close();
  await database.close();
  for (const m of [...cursor, ...csv])
    if (m.rows !== MEMBERS) throw new Error(`expected ${MEMBERS} rows, got ${m.rows}`);

  const cursorMs = median(cursor.map((m) => m.ms));
  const csvMs = median(csv.map((m) => m.ms));
  const result = {
    database: database.server,
    members: MEMBERS,
    runs: RUNS,
    cursorMs: Math.round(cursorMs),
    csvMs: Math.round(csvMs),
    ratio: Math.round((csvMs / cursorMs) * 100) / 100,
    target: 1.2, // issue 15: the export stays within 1.2× of reading the same cursors
    cursorPeakHeapMb: Math.round(Math.max(...cursor.map((m) => m.peakHeapMb)) * 10) / 10,
    csvPeakHeapMb: Math.round(Math.max(...csv.map((m) => m.peakHeapMb)) * 10) / 10,
  };
  saveResult('supporters-csv', result);
  return result;
}
