import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  archiveUnnotedCheckpoints,
  forgetCheckpoints,
} from '../../src/campaigns/drive-log/checkpoint.service.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, memberJoins, newCampaign, verify } from './support.js';

// A database from before signed-note checkpoints (ADR 0014): its checkpoints cannot be read as
// notes. The start-up migration archives them and the log goes on from checkpoint 0.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

it('when a database holds checkpoints signed before notes, then the migration archives them and the next checkpoint verifies', async () => {
  const campaign = await newCampaign(app);
  const at = (n: number) => new Date(app.deps.clock.now().getTime() - 3_600_000 + n * 1000);
  await memberJoins(app, at(0));
  await memberJoins(app, at(1));
  const current = app.deps.db.collection('drive_checkpoints');
  const old = {
    _id: `${String(campaign._id)}#0`,
    campaignId: String(campaign._id),
    sequence: 0,
    treeSize: 1,
    count: 1,
    body: 'membership-drive checkpoint v1\n…',
    signature: 'c2lnbmF0dXJl',
    time: at(0),
  };
  await current.insertOne(old as never);

  expect(await archiveUnnotedCheckpoints(app.deps.db)).toBe(1);
  expect(await archiveUnnotedCheckpoints(app.deps.db)).toBe(0);
  expect(await current.countDocuments({})).toBe(0);
  expect(
    await app.deps.db.collection('drive_checkpoints_v1').findOne({ _id: old._id as never }),
  ).toMatchObject({
    body: old.body,
    signature: old.signature,
  });

  forgetCheckpoints(app.deps.db);
  await checkpoint(app, campaign);
  const signed = await current.find({}).toArray();
  expect(signed).toMatchObject([{ sequence: 0, treeSize: 3 }]); // the offset leaf and two joins
  expect((await verify(app, campaign)).ok).toBe(true);
});
