import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import type { TestApp } from './test-app.js';

// What finance sees in the console's reports, at the manual clock's 27 November 2026: an ended
// spring drive, the running winter drive with three paying members who joined through it (two of
// them named by it), a summer drive planned for next year (the newest), and November's money.

export const FINANCE_MONTH = '2026-11';

export async function seedFinance(app: TestApp): Promise<void> {
  const { Campaign } = campaignModels(app.deps.db);
  await Campaign.create([
    {
      slug: 'spring-2026',
      title: 'Spring drive',
      goal: 200,
      startingOffset: 150,
      startsAt: new Date('2026-02-28T22:00:00Z'),
      endsAt: new Date('2026-03-31T21:00:00Z'),
      timeZone: 'Europe/Kyiv',
    },
    {
      slug: 'winter-2026',
      title: 'Winter drive',
      goal: 1000,
      startingOffset: 600,
      // Midnight of 1 November in Kyiv: still 31 October in UTC.
      startsAt: new Date('2026-10-31T22:00:00Z'),
      endsAt: new Date('2026-12-31T22:00:00Z'),
      timeZone: 'Europe/Kyiv',
    },
    {
      slug: 'summer-2027',
      title: 'Summer drive 2027',
      goal: 500,
      startsAt: new Date('2027-05-31T21:00:00Z'),
      endsAt: new Date('2027-06-30T21:00:00Z'),
      timeZone: 'Europe/Kyiv',
    },
  ]);
  const { Member, Subscription } = membershipModels(app.deps.db);
  for (let i = 0; i < 3; i++) {
    const joinedAt = new Date(Date.parse('2026-11-26T10:00:00Z') - i * 86_400_000);
    const member = await Member.create({
      email: `reader${i}@example.com`,
      status: 'active',
      source: 'checkout',
      joinedAt,
      joinedVia: `sub_fin${i}`,
      ...(i < 2 ? { campaign: 'winter-2026' } : {}),
    });
    await app.deps.events.publish('member.joined', {
      memberId: String(member._id),
      email: member.email,
      joinedAt,
      source: 'checkout',
      paid: true,
    });
    await Subscription.create({
      _id: `sub_fin${i}`,
      memberId: member._id,
      customerId: `cus_fin${i}`,
      status: 'active',
      plan: 'supporter',
      interval: 'month',
      amount: 500,
      currency: 'eur',
      cancelAtPeriodEnd: false,
      lastEventCreated: 1,
      lastEventId: 'e',
    });
  }
  const entry = (id: string, kind: string, amount: number) => ({
    _id: id,
    kind,
    amount,
    currency: 'eur',
    occurredAt: new Date('2026-11-20T10:00:00Z'),
    day: `${FINANCE_MONTH}-20`,
    month: FINANCE_MONTH,
    recordedAt: new Date('2026-11-20T10:00:00Z'),
  });
  await ledgerModel(app.deps.db).insertMany([
    entry('in_fin1', 'subscription_payment', 500),
    entry('in_fin2', 'subscription_payment', 1500),
    entry('refund:fin', 'refund', -500),
  ]);
}
