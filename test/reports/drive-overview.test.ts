import { Types } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countGift, countNewMember } from '../../src/campaigns/campaign.service.js';
import { createLogger } from '../../src/infra/logger.js';
import { driveOverview } from '../../src/reports/drive-overview.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

const now = new Date('2026-11-27T12:00:00Z');
const clock = manualClock(now);
const DAY = 86_400_000;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let campaign: Campaign;

beforeAll(async () => {
  db = await createTestDatabase();
  const created = await campaignModels(db).Campaign.create({
    slug: 'drive',
    title: 'Drive',
    goal: 100,
    startsAt: new Date(now.getTime() - 10 * DAY),
    endsAt: new Date(now.getTime() + 20 * DAY),
    timeZone: 'Europe/Kyiv',
    startingOffset: 10,
  });
  campaign = created.toObject();
  const deps = { db, clock, logger: createLogger({ level: 'silent' }) };
  // Three members early on, then two a day over the last seven days, and one paid gift today.
  const joins = [9.5, 9.4, 9.3, ...Array.from({ length: 14 }, (_, i) => 6.4 - Math.floor(i / 2))];
  for (const [i, daysAgo] of joins.entries()) {
    await countNewMember(deps, {
      memberId: String(new Types.ObjectId()),
      email: `m${i}@example.com`,
      joinedAt: new Date(now.getTime() - daysAgo * DAY),
      source: 'checkout',
    });
  }
  await countGift(deps, { giftId: 'g1', paidAt: new Date(now.getTime() - 3_600_000) });
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

it('when the overview is built, then it shows the count, the pace of the last 7 days and the day the goal is reached at that pace', async () => {
  const o = await driveOverview(db, campaign, now);
  expect(o).toMatchObject({ count: 28, goal: 100, percent: 28, daysLeft: 20 });
  // 15 in the last 7 days (14 members and the gift): 15/7 a day; 72 to go take 34 days, after the end.
  expect(o.pacePerDay).toBe(2.1);
  expect(o.projectedDay).toBe('2026-12-31');
  expect(o.projectedAfterEnd).toBe(true);
  // Every day of the window is on the chart, the days to come without a total.
  expect(o.days).toHaveLength(31);
  expect(o.days.filter((d) => d.cumulative !== undefined)).toHaveLength(11);
  expect(o.days.find((d) => d.day === '2026-11-27')).toMatchObject({ gift: 1, cumulative: 28 });
  expect(o.days.reduce((sum, d) => sum + d.checkout, 0)).toBe(17);
});
