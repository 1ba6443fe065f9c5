import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointsOf, signDueCheckpoints } from '../../src/campaigns/drive-log/checkpoint.service.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';
import { checkpoint, depsOf, giftPaid, giftRefunded, newCampaign, verify } from './support.js';

// Refunds and disputes take members back for months after a campaign ends (a card dispute up to
// 120 days after the payment): the revocations they append must still reach a signed checkpoint,
// or the signed count would stay higher than the log says and each promise would be broken.

let app: TestApp;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
});
afterAll(() => app.close());

const DAY = 86_400_000;

async function endedDaysAgo(days: number) {
  const now = clock.now().getTime();
  const campaign = await newCampaign(app, {
    startsAt: new Date(now - (days + 30) * DAY),
    endsAt: new Date(now - days * DAY),
  });
  const giftId = `gift-${campaign.slug}`;
  await giftPaid(app, giftId, new Date(now - (days + 10) * DAY));
  await checkpoint(app, campaign);
  clock.advance(3_600_000);
  await giftRefunded(app, giftId, clock.now());
  clock.advance(60 * 60_000); // past DRIVE_CHECKPOINT_MINUTES
  return campaign;
}

describe('checkpoints after a campaign ends', () => {
  it('when a gift is refunded 90 days after the campaign ended, then the next periodic run signs a checkpoint counting the revocation, and it verifies', async () => {
    const campaign = await endedDaysAgo(90);
    await signDueCheckpoints(depsOf(app));
    const latest = (await checkpointsOf(app.deps.db, String(campaign._id))).at(-1)!;
    expect(latest).toMatchObject({ sequence: 1, treeSize: 3, count: 0 });
    const result = await verify(app, campaign);
    expect(result.problems).toEqual([]);
    expect(result.latest).toMatchObject({ additions: 1, revocations: 1, count: 0 });
  });

  it('when the log grows later than DRIVE_CHECKPOINT_AFTER_END_DAYS after the end, then no checkpoint is signed any more', async () => {
    const campaign = await endedDaysAgo(200);
    await signDueCheckpoints(depsOf(app));
    expect(await checkpointsOf(app.deps.db, String(campaign._id))).toHaveLength(1);
    const configured = { ...depsOf(app), afterEndMs: 365 * DAY };
    await signDueCheckpoints(configured);
    expect(await checkpointsOf(app.deps.db, String(campaign._id))).toHaveLength(2);
  });
});
