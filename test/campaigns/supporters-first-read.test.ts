import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { afterAll, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { DEMO_SUPPORTERS, seedDemoDrive } from '../../src/dev/demo-seed.js';
import { importMembersFile } from '../../src/imports/import.service.js';
import { systemClock } from '../../src/infra/clock.js';
import { createLogger } from '../../src/infra/logger.js';
import { importDeps } from '../imports/import-support.js';
import { createTestDatabase, releaseTestDatabase, startTestApp, testConfig } from '../support/test-app.js';

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

it('when 12,000 supporters are imported, then the running service shows 12,000 at its next read, and a service started afterwards at its first', async () => {
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
  const running = await startTestApp({ db, config: config(), deps: { clock } });
  try {
    expect(await progressOf(running.url, 'birthday')).toMatchObject({ status: 200, body: { supporters: 0 } });

    const file = path.join(dir, 'members.csv');
    writeFileSync(
      file,
      [
        'email,name,plan,amount,currency,interval,joined_at,stripe_customer_id,status,labels',
        ...Array.from(
          { length: 12_000 },
          (_, i) =>
            `old.friend${i}@example.com,Friend ${i},supporter,,eur,month,${new Date(Date.UTC(2019, 0, 1) + i * 3_600_000).toISOString()},,active,print`,
        ),
      ].join('\n'),
    );
    const summary = await importMembersFile(importDeps(db, systemClock), file, { batchSize: 1000 });
    expect(summary).toMatchObject({ rows: 12_000, created: 12_000, rejected: [] });

    // The import is over: the running service says 12,000 now, not five minutes later.
    expect(await progressOf(running.url, 'birthday')).toMatchObject({
      status: 200,
      body: { count: 0, supporters: 12_000 },
    });
  } finally {
    await running.close();
  }
  // A service started on that database answers its very first read with the total.
  const restarted = await startTestApp({ db, config: config(), deps: { clock } });
  try {
    expect(await progressOf(restarted.url, 'birthday')).toMatchObject({
      status: 200,
      body: { supporters: 12_000 },
    });
  } finally {
    await restarted.close();
  }
}, 300_000);
