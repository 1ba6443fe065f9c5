import fc from 'fast-check';
import { Types } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { growthReport } from '../../src/reports/growth.report.js';
import { summaryReport } from '../../src/reports/summary.report.js';
import { zonedDayRange } from '../../src/shared/time.js';
import { deep } from '../support/depth.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

// Finance compares reports: the summary for a period and the growth report's last day of it must
// give the same members and the same money, to the cent, whatever the members are (imported with
// an external plan, gifted, lapsed, ending in the period, joining after it).

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

const DAY = 86_400_000;
const START = Date.parse('2026-11-01T00:00:00Z');
const member = fc.record({
  joinedDay: fc.integer({ min: -40, max: 40 }), // days from 1 November; the period is November
  endsAfterDays: fc.option(fc.integer({ min: 0, max: 60 })),
  source: fc.constantFrom('checkout', 'gift', 'imported'),
  subscription: fc.option(
    fc.record({
      status: fc.constantFrom(
        'active',
        'trialing',
        'past_due',
        'external',
        'canceled',
        'unpaid',
        'incomplete_expired',
      ),
      interval: fc.constantFrom('month', 'year'),
      amount: fc.integer({ min: 100, max: 100_000 }),
      currency: fc.constantFrom('eur', 'usd', 'uah'),
    }),
  ),
});

it('when any members are summarised for November, then active members and MRR equal the growth report on 30 November', async () => {
  const { Member, Subscription } = membershipModels(db);
  await fc.assert(
    fc.asyncProperty(fc.array(member, { maxLength: 12 }), async (members) => {
      await Promise.all([Member.deleteMany({}), Subscription.deleteMany({})]);
      for (const [i, m] of members.entries()) {
        const joinedAt = new Date(START + m.joinedDay * DAY + 3_600_000);
        const endedAt =
          m.endsAfterDays === null ? null : new Date(joinedAt.getTime() + m.endsAfterDays * DAY + 60_000);
        const _id = new Types.ObjectId();
        await Member.collection.insertOne({
          _id,
          email: `m${i}@example.com`,
          locale: 'en',
          status: endedAt ? 'canceled' : 'active',
          source: m.source,
          joinedAt,
          joinedVia: `test:${i}`,
          endedAt,
        });
        if (m.subscription)
          await Subscription.collection.insertOne({
            _id: `sub_${i}` as never,
            memberId: _id,
            customerId: `cus_${i}`,
            plan: 'supporter',
            cancelAtPeriodEnd: false,
            lastEventCreated: 1,
            lastEventId: `evt_${i}`,
            ...m.subscription,
          });
      }
      const summary = await summaryReport(db, zonedDayRange('2026-11-01', '2026-11-30', 'UTC'));
      const growth = await growthReport(db, { from: '2026-11-01', to: '2026-11-30', timeZone: 'UTC' });
      const last = growth.at(-1)!;
      const nonZero = (mrr: Record<string, number>) =>
        Object.fromEntries(Object.entries(mrr).filter(([, v]) => v !== 0));
      expect(summary.activeByPlan.reduce((sum, row) => sum + row.members, 0)).toBe(last.active);
      expect(nonZero(summary.mrr)).toEqual(nonZero(last.mrr));
      expect(summary.new).toBe(growth.reduce((sum, day) => sum + day.joined, 0));
      expect(summary.churned).toBe(growth.reduce((sum, day) => sum + day.ended, 0));
    }),
    {
      seed: Number(process.env.REPORTS_SEED ?? 20261206),
      numRuns: Number(process.env.REPORTS_RUNS ?? deep(40)),
    },
  );
}, 120_000);

it('when an imported member pays outside Stripe (an external subscription), then the summary shows its plan and counts its money', async () => {
  const { Member, Subscription } = membershipModels(db);
  await Promise.all([Member.deleteMany({}), Subscription.deleteMany({})]);
  const _id = new Types.ObjectId();
  await Member.collection.insertOne({
    _id,
    email: 'imported@example.com',
    locale: 'en',
    status: 'active',
    source: 'imported',
    joinedAt: new Date('2019-01-01T00:00:00Z'),
    joinedVia: 'import',
    endedAt: null,
  });
  await Subscription.collection.insertOne({
    _id: 'import_sub' as never,
    memberId: _id,
    customerId: 'import',
    status: 'external',
    plan: 'supporter',
    interval: 'month',
    amount: 500,
    currency: 'eur',
    cancelAtPeriodEnd: false,
    lastEventCreated: 1,
    lastEventId: 'import',
    source: 'imported',
  });
  const summary = await summaryReport(db, zonedDayRange('2026-11-01', '2026-11-30', 'UTC'));
  expect(summary.activeByPlan).toEqual([
    { plan: 'supporter', interval: 'month', currency: 'eur', members: 1 },
  ]);
  expect(summary.mrr).toEqual({ eur: 500 });
});
