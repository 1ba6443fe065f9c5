import mongoose, { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { registerModels } from '../../src/models.js';
import { databaseUri, manualClock, startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, newCampaign } from './support.js';

// The count is the latest checkpoint's signed count plus the leaves after it (log-tail.ts). Its cost
// must not grow with the log: a fresh process sums the tail once, by `_id`, however many readers
// ask at once, and an arrival after that reads only its own leaf. On FerretDB any other filter
// decodes the whole collection.

let app: TestApp;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
const connections: mongoose.Connection[] = [];

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
});
afterAll(async () => {
  await app.close();
  for (const db of connections) await db.close();
});

/** Another process on the same database: its own memory, and a record of every read it sends. */
async function freshProcess() {
  const db = await mongoose
    .createConnection(databaseUri(app.deps.db.name), { monitorCommands: true, autoIndex: false })
    .asPromise();
  connections.push(db);
  registerModels(db);
  const reads: { collection: string; filter: Record<string, unknown> }[] = [];
  db.getClient().on('commandStarted', (event) => {
    if (['find', 'count', 'aggregate'].includes(event.commandName))
      reads.push({ collection: event.command[event.commandName], filter: event.command.filter ?? {} });
  });
  return { db, reads };
}

const joins = (n: number) =>
  Promise.all(
    Array.from({ length: n }, () => {
      const memberId = String(new Types.ObjectId());
      return app.deps.events.publish('member.joined', {
        memberId,
        email: `${memberId}@example.com`,
        joinedAt: clock.now(),
        source: 'checkout',
      });
    }),
  );
const notById = (reads: { filter: Record<string, unknown> }[]) =>
  reads.filter(({ filter }) => Object.keys(filter).join() !== '_id');
const leafReads = (reads: { collection: string }[]) =>
  reads.filter(({ collection }) => collection === 'drive_log_leaves').length;

describe('the count’s reads', () => {
  it('when 40 readers of a fresh process ask for the count at once, 150 leaves after the checkpoint, then the tail is read once, each leaf by _id', async () => {
    const campaign = await newCampaign(app);
    await joins(10);
    await checkpoint(app, campaign);
    await joins(150);
    const fresh = await freshProcess();

    const counts = await Promise.all(Array.from({ length: 40 }, () => countOf(fresh.db, campaign)));

    expect(new Set(counts)).toEqual(new Set([160]));
    expect(notById(fresh.reads)).toEqual([]);
    // The 150 leaves after the checkpoint once, plus each reader's probes for the log's end (about
    // 2·log2 of its size); summed per reader it would be 40 × 150.
    expect(leafReads(fresh.reads)).toBeLessThan(150 + 40 * 20);
  });

  it('when the log has grown by 200 leaves, then an arrival and a count read no more than at 20', async () => {
    const campaign = await newCampaign(app);
    await checkpoint(app, campaign);
    const fresh = await freshProcess();
    let logged = 0;
    const readsAt = async (leaves: number) => {
      await joins(leaves);
      logged += leaves + 1;
      await countOf(fresh.db, campaign); // this process has summed the tail once
      fresh.reads.length = 0;
      await joins(1);
      expect(await countOf(fresh.db, campaign)).toBe(logged);
      return fresh.reads.length;
    };
    const small = await readsAt(20);
    const large = await readsAt(200);
    expect(notById(fresh.reads)).toEqual([]);
    expect(large).toBeLessThanOrEqual(small + 2);
  });
});
