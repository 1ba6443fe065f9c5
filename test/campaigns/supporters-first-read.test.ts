import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { afterAll, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { DEMO_SUPPORTERS, seedDemoDrive } from '../../src/dev/demo-seed.js';
import { createLogger } from '../../src/infra/logger.js';
import { spawnScript } from '../support/server-process.js';
import {
  createTestDatabase,
  databaseUri,
  releaseTestDatabase,
  startTestApp,
  testConfig,
} from '../support/test-app.js';

// What a newsroom sees first beside "612 of 1,000": the supporters total, right from the first
// progress read (never a 503, never "0 supporters" when there are supporters).

const dir = mkdtempSync(path.join(os.tmpdir(), 'supporters-first-read-'));
const databases: Connection[] = [];
afterAll(async () => {
  for (const db of databases) await releaseTestDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

async function freshDatabase() {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

const config = () => testConfig({ PROGRESS_CACHE_SECONDS: '0' });
const clock = { now: () => new Date() };

async function progressOf(url: string, slug: string) {
  const res = await fetch(`${url}/campaigns/${slug}/progress`);
  return { status: res.status, body: (await res.json()) as { count: number; supporters: number | null } };
}

it('when the demo drive is seeded on a fresh database, then the first progress read is 200 with its supporters', async () => {
  const db = await freshDatabase();
  await seedDemoDrive({ db, clock, logger: createLogger({ level: 'silent' }), timeZone: 'Europe/Kyiv' });
  const app = await startTestApp({ db, config: config(), deps: { clock } });
  try {
    const first = await progressOf(app.url, 'birthday');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ count: 612, supporters: DEMO_SUPPORTERS });
    expect(DEMO_SUPPORTERS).toBe(1240);
  } finally {
    await app.close();
  }
}, 120_000);

/** A members file in the plain format, `n` rows from `from` on. */
function membersFile(name: string, from: number, n: number) {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    [
      'email,name,plan,amount,currency,interval,joined_at,stripe_customer_id,status,labels',
      ...Array.from(
        { length: n },
        (_, k) =>
          `old.friend${from + k}@example.com,Friend ${from + k},supporter,,eur,month,${new Date(Date.UTC(2019, 0, 1) + (from + k) * 3_600_000).toISOString()},,active,print`,
      ),
    ].join('\n'),
  );
  return file;
}

/** `npm run import -- members FILE`, as staff run it: its own process, on the service's database. */
async function importCli(db: Connection, file: string) {
  const run = spawnScript(
    'src/cli/import.ts',
    {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      MONGODB_URI: databaseUri(db.name),
      STRIPE_SECRET_KEY: 'sk_test_import',
    },
    ['members', file],
  );
  expect(await run.exited, run.output()).toBe(0);
  return run.output();
}

// The 12,000-row import takes about 15 s of the CLI's time alone on two idle cores; the whole test
// about 30-50 s on a shared machine.
it('when 12,000 supporters are imported into a fresh database, then the first progress read is 200 with 12,000, and a running service shows the next import at its next read', async () => {
  const db = await freshDatabase();
  const now = Date.now();
  await campaignModels(db).Campaign.create({
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    goal: 1000,
    startsAt: new Date(now - 5 * 86_400_000),
    endsAt: new Date(now + 25 * 86_400_000),
    timeZone: 'Europe/Kyiv',
    startingOffset: 0,
  });
  expect(await importCli(db, membersFile('members.csv', 0, 12_000))).toContain('12,000 rows; added 12,000');

  // No service has read this database yet: the first one answers its very first read with the total.
  const app = await startTestApp({ db, config: config(), deps: { clock } });
  try {
    expect(await progressOf(app.url, 'birthday')).toMatchObject({
      status: 200,
      body: { count: 0, supporters: 12_000 },
    });
    // Another import while it runs: it says so at its next read, not five minutes later.
    expect(await importCli(db, membersFile('more.csv', 12_000, 3))).toContain('added 3');
    expect(await progressOf(app.url, 'birthday')).toMatchObject({
      status: 200,
      body: { supporters: 12_003 },
    });
  } finally {
    await app.close();
  }
}, 300_000);
