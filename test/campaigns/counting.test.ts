import { Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countGift, countOf, revokeGift } from '../../src/campaigns/campaign.service.js';
import { updateCampaign } from '../../src/campaigns/campaign-admin.js';
import { rebuildCampaignCounts } from '../../src/campaigns/rebuild.js';
import { emailModels } from '../../src/email/email.model.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { recordLedgerEntry } from '../../src/ledger/ledger.service.js';
import { importMembers } from '../../src/memberships/member-import.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';
import { deep } from '../support/depth.js';
import {
  charge,
  checkoutSession,
  invoice,
  postEvent,
  purchase,
  stripeEvent,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let app: TestApp;
let campaign: Campaign;
const START = new Date('2026-11-01T00:00:00Z');
const END = new Date('2026-12-01T00:00:00Z');
const inWindow = (n: number) => new Date(START.getTime() + 86_400_000 + n * 1000);

beforeAll(async () => {
  app = await startTestApp();
  await createStaffUser(app.deps.db, {
    email: 'editor@newsroom.example',
    name: 'Ed',
    role: 'editor',
    password: 'long enough password',
  });
});
afterAll(() => app.close());
beforeEach(async () => {
  await Promise.all(
    [
      'campaigns',
      'campaign_contributions',
      'campaign_revocations',
      'members',
      'ledger',
      'payment_links',
      'refund_steps',
      'email_jobs',
    ].map((c) => app.deps.db.collection(c).deleteMany({})),
  );
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'birthday',
      title: '1,000 new members for our birthday',
      goal: 1000,
      startsAt: START,
      endsAt: END,
      timeZone: 'Europe/Kyiv',
      startingOffset: 0,
    })
  ).toObject();
});

const count = () => countOf(app.deps.db, campaign);
/**
 * Members arriving at once: 200, ten times as many in a deep run. Any two
 * concurrent arrivals can race; the number only sets how many chances they get.
 */
const ARRIVALS = deep(200);
/** What memberships publish when a reader first becomes a member (with the member stored, as memberships does). */
async function joins(
  n: number,
  at: (i: number) => Date = inWindow,
  source: 'checkout' | 'gift' = 'checkout',
) {
  const members = await membershipModels(app.deps.db).Member.insertMany(
    Array.from({ length: n }, (_, i) => ({
      email: `m${i}-${Math.random().toString(36).slice(2)}@example.com`,
      status: 'active',
      source,
      joinedAt: at(i),
      joinedVia: source === 'gift' ? `gift:g${i}` : `sub_${i}`,
    })),
  );
  return members.map((m) => ({
    memberId: String(m._id),
    email: m.email,
    joinedAt: m.joinedAt,
    source,
  }));
}
const publishJoined = (events: Awaited<ReturnType<typeof joins>>) =>
  Promise.all(events.map((e) => app.deps.events.publish('member.joined', e)));

describe('counting new members', () => {
  it(`when ${ARRIVALS} distinct new members arrive at once, then the count is exactly ${ARRIVALS}`, async () => {
    await publishJoined(await joins(ARRIVALS));
    expect(await count()).toBe(ARRIVALS);
  }, 120_000);

  it(`when each of ${ARRIVALS} arrivals is delivered three times, concurrently, then the count is still ${ARRIVALS}`, async () => {
    const events = await joins(ARRIVALS);
    await publishJoined([...events, ...events, ...events]);
    expect(await count()).toBe(ARRIVALS);
  }, 120_000);

  it('when members joined before the window or after its end, then they do not count', async () => {
    await publishJoined(await joins(3, () => new Date(START.getTime() - 1)));
    await publishJoined(await joins(2, () => END));
    await publishJoined(await joins(4, () => new Date(END.getTime() - 1)));
    expect(await count()).toBe(4);
  });

  it('when the campaign has a starting offset, then it is added', async () => {
    await campaignModels(app.deps.db).Campaign.updateOne(
      { _id: campaign._id },
      { $set: { startingOffset: 120 } },
    );
    campaign.startingOffset = 120;
    await publishJoined(await joins(5));
    expect(await count()).toBe(125);
  });

  it('when a paid checkout arrives through the Stripe webhook, then the campaign counts that member', async () => {
    const p = purchase({ campaign: 'birthday' });
    const createdInWindow = Math.floor(inWindow(0).getTime() / 1000);
    expect(
      (
        await postEvent(
          app.url,
          stripeEvent('checkout.session.completed', checkoutSession(p), createdInWindow),
        )
      ).status,
    ).toBe(200);
    expect(await count()).toBe(1);
    const [contribution] = await campaignModels(app.deps.db).Contribution.find().lean();
    expect(contribution).toMatchObject({ kind: 'member', source: 'birthday', day: '2026-11-02' });
  });
});

describe('refunds', () => {
  it('when the first payment is refunded inside the window, then the contribution is taken back once', async () => {
    const [joined] = await joins(1);
    await app.deps.events.publish('member.joined', joined!);
    const memberId = new Types.ObjectId(joined!.memberId);
    await ledgerModel(app.deps.db).create({
      _id: 'in_first',
      kind: 'subscription_payment',
      amount: 500,
      currency: 'eur',
      occurredAt: inWindow(1),
      day: '2026-11-02',
      month: '2026-11',
      memberId,
      recordedAt: new Date(),
    });
    const refund = {
      entryId: 'refund:ch_1:500',
      kind: 'refund',
      memberId: joined!.memberId,
      amount: -500,
      currency: 'eur',
      occurredAt: inWindow(100),
      reverses: 'in_first',
      fullRefund: true,
    };
    await ledgerModel(app.deps.db).create({
      _id: refund.entryId,
      kind: 'refund',
      amount: -500,
      currency: 'eur',
      occurredAt: refund.occurredAt,
      day: '2026-11-02',
      month: '2026-11',
      memberId,
      reverses: 'in_first',
      recordedAt: new Date(),
    });
    expect(await count()).toBe(1);
    await Promise.all([1, 2, 3].map(() => app.deps.events.publish('ledger.recorded', refund)));
    expect(await count()).toBe(0);
  });

  it('when a later payment is refunded, or the refund comes after the window, then the count stays', async () => {
    const [a, b] = await joins(2);
    await publishJoined([a!, b!]);
    await app.deps.events.publish('ledger.recorded', {
      entryId: 'r1',
      kind: 'refund',
      memberId: a!.memberId,
      amount: -500,
      currency: 'eur',
      occurredAt: inWindow(50),
      reverses: 'in_second',
      fullRefund: true,
    });
    await ledgerModel(app.deps.db).create({
      _id: 'in_b',
      kind: 'subscription_payment',
      amount: 500,
      currency: 'eur',
      occurredAt: inWindow(1),
      day: '2026-11-02',
      month: '2026-11',
      memberId: new Types.ObjectId(b!.memberId),
      recordedAt: new Date(),
    });
    await app.deps.events.publish('ledger.recorded', {
      entryId: 'r2',
      kind: 'refund',
      memberId: b!.memberId,
      amount: -500,
      currency: 'eur',
      occurredAt: END,
      reverses: 'in_b',
      fullRefund: true,
    });
    expect(await count()).toBe(2);
  });
});

describe('refunds through Stripe events', () => {
  /** A member who joined in the window and paid a first invoice (500) through PaymentIntent `pi`. */
  async function payingMember() {
    const p = purchase({ amount: 500 });
    const at = Math.floor(inWindow(0).getTime() / 1000);
    const first = {
      ...invoice(p),
      billing_reason: 'subscription_create',
      status_transitions: { paid_at: at },
      payments: {
        object: 'list',
        data: [{ payment: { type: 'payment_intent', payment_intent: p.paymentIntent } }],
      },
    };
    for (const [type, object] of [
      ['checkout.session.completed', checkoutSession(p)],
      ['invoice.paid', first],
    ] as const)
      expect((await postEvent(app.url, stripeEvent(type, object, at))).status).toBe(200);
    return { p, refundAt: at + 3600 };
  }
  const refund = async (p: ReturnType<typeof purchase>, amountRefunded: number, at: number) =>
    (await postEvent(app.url, stripeEvent('charge.refunded', charge(p, { amountRefunded }), at))).status;

  it('when a paying member’s first payment is refunded in part, then they still count; when the rest is refunded, then they are taken back once', async () => {
    const { p, refundAt } = await payingMember();
    expect(await count()).toBe(1);
    expect(await refund(p, 100, refundAt)).toBe(200);
    expect(await count()).toBe(1);
    expect(await refund(p, 500, refundAt + 60)).toBe(200);
    expect(await refund(p, 500, refundAt + 60)).toBe(200);
    expect(await count()).toBe(0);
  });

  it('when the first payment is refunded in full and Stripe cannot be asked about it, then the member is still taken back (the link comes from the events)', async () => {
    const { p, refundAt } = await payingMember();
    // The invoice names no charge; the charge names only its PaymentIntent; settlement (stripe-mock
    // here) knows neither: the invoice's payments are the only link.
    expect(
      await ledgerModel(app.deps.db).findOne({ kind: 'subscription_payment' }).lean(),
    ).not.toHaveProperty('chargeId');
    expect(await refund(p, 500, refundAt)).toBe(200);
    expect(await count()).toBe(0);
  });
});

describe('gifts', () => {
  it('when a gift recipient joins by redeeming it, then the count does not change: the gift counted when it was paid', async () => {
    await countGift(
      { db: app.deps.db, clock: app.deps.clock, logger: app.deps.logger },
      { giftId: 'g0', paidAt: inWindow(1) },
    );
    expect(await count()).toBe(1);
    await publishJoined(await joins(1, inWindow, 'gift'));
    expect(await count()).toBe(1);
  });

  it('when a gift is paid during the campaign it counts once; when refunded it is taken back once', async () => {
    await Promise.all(
      [1, 2, 3].map(() =>
        countGift(
          { db: app.deps.db, clock: app.deps.clock, logger: app.deps.logger },
          { giftId: 'g1', paidAt: inWindow(5) },
        ),
      ),
    );
    expect(await count()).toBe(1);
    await revokeGift({ db: app.deps.db, clock: app.deps.clock, logger: app.deps.logger }, 'g1', inWindow(9));
    await revokeGift({ db: app.deps.db, clock: app.deps.clock, logger: app.deps.logger }, 'g1', inWindow(9));
    expect(await count()).toBe(0);
  });
});

describe('milestones', () => {
  it('when one join jumps the count past 25% and 50% at once, then editors get one message, for 50%', async () => {
    await campaignModels(app.deps.db).Campaign.updateOne(
      { _id: campaign._id },
      { $set: { goal: 8, startingOffset: 3 } },
    );
    campaign = { ...campaign, goal: 8, startingOffset: 3 };
    await publishJoined(await joins(1));
    const jobs = await emailModels(app.deps.db).EmailJob.find({ template: 'campaign-milestone' }).lean();
    expect(jobs.map((j) => [j.to.email, j.data.percent])).toEqual([['editor@newsroom.example', 50]]);
  });

  it('when the count falls back under a milestone and rises again, then a lower milestone is not announced after a higher one', async () => {
    await campaignModels(app.deps.db).Campaign.updateOne(
      { _id: campaign._id },
      { $set: { goal: 8, startingOffset: 5 } },
    );
    campaign = { ...campaign, goal: 8, startingOffset: 5 };
    await publishJoined(await joins(1)); // 6 of 8: 75 %
    // Through the campaign writer: once the log has its offset, only a logged change moves it.
    await updateCampaign(app.deps.db, app.deps.clock, campaign.slug, { startingOffset: 3 });
    await publishJoined(await joins(1)); // 5 of 8: 50 % reached, 75 % already announced
    const jobs = await emailModels(app.deps.db).EmailJob.find({ template: 'campaign-milestone' }).lean();
    expect(jobs.map((j) => j.data.percent)).toEqual([75]);
  });

  it('when the count crosses 25% and then 50%, then editors are emailed once per milestone', async () => {
    await campaignModels(app.deps.db).Campaign.updateOne({ _id: campaign._id }, { $set: { goal: 8 } });
    for (const joined of await joins(4)) await publishJoined([joined]);
    await publishJoined(await joins(1));
    const jobs = await emailModels(app.deps.db)
      .EmailJob.find({ template: 'campaign-milestone' })
      .sort({ 'data.percent': 1 })
      .lean();
    expect(jobs.map((j) => [j.to.email, j.data.percent])).toEqual([
      ['editor@newsroom.example', 25],
      ['editor@newsroom.example', 50],
    ]);
  });
});

describe('rebuild', () => {
  it('when a supporter imported from another system joined inside the window, then the rebuild does not count them either', async () => {
    await membershipModels(app.deps.db).Member.create({
      email: 'imported@example.com',
      status: 'active',
      source: 'imported',
      joinedAt: inWindow(1),
      joinedVia: 'import:ghost',
    });
    await publishJoined(await joins(2));
    const [report] = await rebuildCampaignCounts(app.deps.db);
    expect(report).toMatchObject({ live: 2, stored: 2, recomputed: 2, missing: [], extra: [] });
  });

  it('when an imported supporter who joined inside the window pays during the drive, then neither the live count nor the rebuild counts them', async () => {
    const deps = { db: app.deps.db, clock: app.deps.clock };
    const email = `imported-${Math.random().toString(36).slice(2)}@example.com`;
    const [memberId] = (
      await importMembers(deps, [{ email, joinedAt: inWindow(1), status: 'active', labels: [] }], {
        joinedVia: 'import:file',
      })
    ).ids;
    // Their renewal, as an invoice.paid records it: the ledger tells campaigns that money arrived.
    await recordLedgerEntry(
      { ...deps, events: app.deps.events, timeZone: 'UTC' },
      {
        _id: `in_imported_${memberId}`,
        kind: 'subscription_payment',
        amount: 500,
        currency: 'eur',
        occurredAt: inWindow(2),
        memberId: memberId!,
        billingReason: 'subscription_cycle',
      },
    );
    await publishJoined(await joins(1));
    expect(await count()).toBe(1);
    const [report] = await rebuildCampaignCounts(app.deps.db);
    expect(report).toMatchObject({ live: 1, stored: 1, recomputed: 1, missing: [], extra: [] });
  });

  it('when counts are rebuilt from members and the ledger, then they agree; a tampered count is reported', async () => {
    await publishJoined(await joins(30));
    await publishJoined(await joins(2, () => new Date(START.getTime() - 5)));
    let [report] = await rebuildCampaignCounts(app.deps.db);
    expect(report).toMatchObject({
      slug: 'birthday',
      live: 30,
      stored: 30,
      recomputed: 30,
      missing: [],
      extra: [],
      wronglyRevoked: [],
      notRevoked: [],
    });

    const one = await campaignModels(app.deps.db).Contribution.findOne().lean();
    await campaignModels(app.deps.db).Contribution.deleteOne({ _id: one!._id });
    [report] = await rebuildCampaignCounts(app.deps.db);
    expect(report).toMatchObject({ live: 30, stored: 29, recomputed: 30, missing: [one!._id] });
  });

  it('when readers joined by redeeming gifts, then the rebuild agrees: each gift counts once, when paid', async () => {
    await publishJoined(await joins(3));
    const deps = { db: app.deps.db, clock: app.deps.clock, logger: app.deps.logger };
    for (const giftId of ['g0', 'g1']) await countGift(deps, { giftId, paidAt: inWindow(3) });
    await publishJoined(await joins(2, inWindow, 'gift'));
    const [report] = await rebuildCampaignCounts(app.deps.db);
    expect(report).toMatchObject({
      stored: 5,
      recomputed: 5,
      missing: [],
      extra: [],
      wronglyRevoked: [],
      notRevoked: [],
    });
  });
});
