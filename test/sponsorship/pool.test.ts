import { Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { emailModels } from '../../src/email/email.model.js';
import { type Gift, giftModel } from '../../src/gifts/gift.model.js';
import { deliverDueGifts } from '../../src/gifts/gift.service.js';
import { giftDepsFrom } from '../../src/gifts/gift-deps.js';
import { connectDatabase } from '../../src/infra/db.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { registerModels } from '../../src/models.js';
import { sponsorshipModels } from '../../src/sponsorship/sponsorship.model.js';
import {
  confirmSponsorshipRequest,
  decideRequest,
  poolReport,
  requestSponsorship,
  type SponsorshipDeps,
  sendSponsorReports,
} from '../../src/sponsorship/sponsorship.service.js';
import { sponsorshipDepsFrom } from '../../src/sponsorship/sponsorship-deps.js';
import { staffToken } from '../support/staff.js';
import { charge, checkoutSession, postEvent, purchase, stripeEvent, T0 } from '../support/stripe-events.js';
import { databaseUri, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

let app: TestApp;
let deps: SponsorshipDeps;
let campaign: Campaign;
const PRICE = 5000; // a year's gift in EUR (the default gift options)

beforeAll(async () => {
  app = await startTestApp({
    config: testConfig({ SPONSORSHIP_AUTO_APPROVE_DOMAINS: 'students.example.edu' }),
  });
  deps = sponsorshipDepsFrom(app.deps.config, app.deps);
});
afterAll(() => app.close());
beforeEach(async () => {
  await Promise.all(
    [
      'campaigns',
      'sponsorship_funds',
      'sponsorship_allocations',
      'sponsorship_requests',
      'gifts',
      'ledger',
      'claims',
      'email_jobs',
    ].map((c) => app.deps.db.collection(c).deleteMany({})),
  );
  const now = app.deps.clock.now().getTime();
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'birthday',
      title: '1,000 new members for our birthday',
      goal: 1000,
      startsAt: new Date(now - 86_400_000),
      endsAt: new Date(now + 86_400_000),
      timeZone: 'UTC',
    })
  ).toObject();
});

/** A supporter pays into the pool through Stripe Checkout (the signed webhook, as in production). */
async function sponsorPays(email: string, amount: number) {
  const p = purchase({ email, amount, currency: 'eur' });
  const session = {
    ...checkoutSession(p, { kind: 'one_time' }),
    metadata: { app: METADATA_APP, kind: 'sponsorship', campaignId: String(campaign._id), locale: 'en' },
  };
  expect((await postEvent(app.url, stripeEvent('checkout.session.completed', session))).status).toBe(200);
  return p;
}

/** Confirmed requests, as readers leave them after the double opt-in. */
async function confirmedRequests(n: number, locale = 'en') {
  const docs = await sponsorshipModels(app.deps.db).Request.insertMany(
    Array.from({ length: n }, (_, i) => ({
      campaignId: campaign._id,
      email: `reader${i}-${Math.random().toString(36).slice(2, 7)}@example.org`,
      reason: 'I am a student and cannot pay',
      country: 'UA',
      locale,
      status: 'requested',
      tokenHash: 'x',
    })),
  );
  return docs.map((d) => String(d._id));
}

const approve = (id: string, on: SponsorshipDeps = deps) =>
  decideRequest(on, id, { decision: 'approve', by: 'staff:editor' });

describe('approvals draw from the pool', () => {
  it('when 50 approvals race (from two processes) against a pool with money for 10 memberships, then exactly 10 are granted and the pool is never overdrawn', async () => {
    await sponsorPays('anna@example.com', 3 * PRICE);
    await sponsorPays('bohdan@example.com', 7 * PRICE);
    const other = await connectDatabase({
      uri: databaseUri(app.deps.db.name),
      poolSize: 10,
      timeoutMs: 10_000,
    });
    registerModels(other);
    try {
      const ids = await confirmedRequests(50);
      const outcomes = await Promise.all(
        ids.map((id, i) => approve(id, i % 2 ? { ...deps, db: other } : deps)),
      );
      expect(outcomes.filter((o) => o === 'granted')).toHaveLength(10);
      expect(outcomes.filter((o) => o === 'waiting_for_funds')).toHaveLength(40);
    } finally {
      await other.close();
    }
    expect(await sponsorshipModels(app.deps.db).Allocation.countDocuments()).toBe(10);
    expect(await giftModel(app.deps.db).countDocuments({ status: 'paid' })).toBe(10);
    expect(await sponsorshipModels(app.deps.db).Request.countDocuments({ status: 'approved' })).toBe(10);
    const [eur] = (await poolReport(deps, String(campaign._id))).filter((r) => r.currency === 'eur');
    expect(eur).toEqual({
      currency: 'eur',
      price: PRICE,
      moneyIn: 10 * PRICE,
      refunded: 0,
      balance: 0,
      deficit: 0,
      membershipsGiven: 10,
      available: 0,
    });
  });

  it('when a request is approved twice at once, then it gets one membership', async () => {
    await sponsorPays('anna@example.com', 3 * PRICE);
    const [id] = await confirmedRequests(1);
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => approve(id!)));
    expect(outcomes.every((o) => o === 'granted')).toBe(true);
    expect(await sponsorshipModels(app.deps.db).Allocation.countDocuments()).toBe(1);
    expect(await giftModel(app.deps.db).countDocuments()).toBe(1);
  });

  it('when a request was declined, then approving it changes nothing; a waiting approval is granted once money comes in', async () => {
    const [declined, waiting] = await confirmedRequests(2);
    expect(
      await decideRequest(deps, declined!, { decision: 'decline', note: 'not eligible', by: 'staff:x' }),
    ).toBe('declined');
    expect(await approve(declined!)).toBe('already_decided');
    expect(await approve(waiting!)).toBe('waiting_for_funds');
    await sponsorPays('anna@example.com', PRICE);
    expect(await approve(waiting!)).toBe('granted');
    expect(await sponsorshipModels(app.deps.db).Request.findById(declined).lean()).toMatchObject({
      status: 'declined',
      note: 'not eligible',
    });
  });
});

describe('refunds of sponsorship payments', () => {
  it('when a sponsorship payment is refunded, then the pool shrinks, memberships already granted stay, and no new one is granted from money that is gone', async () => {
    await sponsorPays('anna@example.com', 3 * PRICE);
    const bohdan = await sponsorPays('bohdan@example.com', 2 * PRICE);
    const ids = await confirmedRequests(5);
    for (const id of ids.slice(0, 4)) expect(await approve(id)).toBe('granted');
    const refund = charge(bohdan, { amountRefunded: 2 * PRICE });
    expect((await postEvent(app.url, stripeEvent('charge.refunded', refund))).status).toBe(200);

    const [eur] = (await poolReport(deps, String(campaign._id))).filter((r) => r.currency === 'eur');
    expect(eur).toMatchObject({
      moneyIn: 5 * PRICE,
      refunded: 2 * PRICE,
      balance: -PRICE,
      membershipsGiven: 4,
      available: 0,
    });
    expect(await approve(ids[4]!)).toBe('waiting_for_funds');
    // The four readers keep their memberships: their gifts are still on their way.
    expect(await giftModel(app.deps.db).countDocuments({ status: 'paid' })).toBe(4);
    // The ledger holds the money as revenue and its refund; the allocations are not money.
    const ledger = await ledgerModel(app.deps.db).find().sort({ amount: -1 }).lean();
    expect(ledger.map((e) => [e.kind, e.plan, e.amount])).toEqual([
      ['one_time_payment', 'sponsorship', 3 * PRICE],
      ['one_time_payment', 'sponsorship', 2 * PRICE],
      ['refund', undefined, -2 * PRICE],
    ]);
    // A redelivered refund takes nothing more.
    expect((await postEvent(app.url, stripeEvent('charge.refunded', refund))).status).toBe(200);
    expect((await poolReport(deps, String(campaign._id))).find((r) => r.currency === 'eur')!.refunded).toBe(
      2 * PRICE,
    );
  });
});

describe('a pool in deficit', () => {
  it('when refunds take out more than was left after grants, then the report shows the deficit, the grants stand, and approvals wait until new money covers the deficit and a membership', async () => {
    const anna = await sponsorPays('anna@example.com', 3 * PRICE);
    await sponsorPays('bohdan@example.com', 7 * PRICE);
    for (const id of await confirmedRequests(10)) expect(await approve(id)).toBe('granted');
    expect(
      (await postEvent(app.url, stripeEvent('charge.refunded', charge(anna, { amountRefunded: 3 * PRICE }))))
        .status,
    ).toBe(200);

    const finance = { authorization: (await staffToken(app.url, app.deps.db, 'finance')).authorization };
    const editor = {
      authorization: (await staffToken(app.url, app.deps.db, 'editor')).authorization,
      'content-type': 'application/json',
    };
    const report = async () => {
      const res = await fetch(`${app.url}/reports/sponsorship/birthday`, { headers: finance });
      expect(res.status).toBe(200);
      return ((await res.json()).pools as { currency: string }[]).find((p) => p.currency === 'eur');
    };
    const decide = async (ids: string[]) => {
      const res = await fetch(`${app.url}/sponsorships/birthday/decisions`, {
        method: 'POST',
        headers: editor,
        body: JSON.stringify({ ids, decision: 'approve' }),
      });
      expect(res.status).toBe(200);
      return (await res.json()).results as { id: string; outcome: string; code?: string; message?: string }[];
    };
    expect(await report()).toMatchObject({
      moneyIn: 10 * PRICE,
      refunded: 3 * PRICE,
      balance: -3 * PRICE,
      deficit: 3 * PRICE,
      membershipsGiven: 10,
      available: 0,
    });

    const [waiting] = await confirmedRequests(1);
    const [result] = await decide([waiting!]);
    expect(result).toMatchObject({ id: waiting, outcome: 'waiting_for_funds', code: 'pool_deficit' });
    expect(result!.message).toMatch(/deficit by €150\.00/);
    expect(result!.message).toMatch(/€200\.00/); // the deficit and one membership
    // Queued where the editor finds it; the ten grants stand.
    const listed = await fetch(`${app.url}/sponsorships/birthday/requests?status=waiting_for_funds`, {
      headers: editor,
    });
    expect((await listed.json()).requests.map((r: { id: string }) => r.id)).toEqual([waiting]);
    expect(await giftModel(app.deps.db).countDocuments({ status: 'paid' })).toBe(10);

    // New money that only covers the deficit pays for no one yet.
    await sponsorPays('carol@example.com', 3 * PRICE);
    expect(await report()).toMatchObject({ balance: 0, deficit: 0, available: 0 });
    expect(await decide([waiting!])).toEqual([
      expect.objectContaining({ outcome: 'waiting_for_funds', code: 'pool_empty' }),
    ]);
    await sponsorPays('dmytro@example.com', PRICE);
    expect(await decide([waiting!])).toEqual([{ id: waiting, outcome: 'granted' }]);
    expect(await report()).toMatchObject({ balance: 0, deficit: 0, membershipsGiven: 11 });
    expect(await sponsorshipModels(app.deps.db).Request.findById(waiting).lean()).toMatchObject({
      status: 'approved',
    });
  });
});

describe('partial refunds of sponsorship payments', () => {
  it('when part of a sponsorship payment is refunded, then the pool shrinks by that part, a second partial refund by its own part, and approvals draw only on what is left', async () => {
    const anna = await sponsorPays('anna@example.com', 3 * PRICE);
    const eur = async () => (await poolReport(deps, String(campaign._id))).find((r) => r.currency === 'eur')!;
    // Stripe's charge.refunded carries the running total: 50.00, then 75.00 of 150.00.
    const first = stripeEvent('charge.refunded', charge(anna, { amountRefunded: PRICE }), T0 + 100);
    const second = stripeEvent('charge.refunded', charge(anna, { amountRefunded: 1.5 * PRICE }), T0 + 200);
    expect((await postEvent(app.url, first)).status).toBe(200);
    expect(await eur()).toMatchObject({
      moneyIn: 3 * PRICE,
      refunded: PRICE,
      balance: 2 * PRICE,
      available: 2,
    });
    for (const event of [second, first, second]) expect((await postEvent(app.url, event)).status).toBe(200);
    expect(await eur()).toMatchObject({
      moneyIn: 3 * PRICE,
      refunded: 1.5 * PRICE,
      balance: 1.5 * PRICE,
      available: 1,
    });

    const outcomes = [];
    for (const id of await confirmedRequests(2)) outcomes.push(await approve(id));
    expect(outcomes).toEqual(['granted', 'waiting_for_funds']);
    expect(await giftModel(app.deps.db).countDocuments({ status: 'paid' })).toBe(1);
  });
});

describe('a sponsorship refund that fails', () => {
  it('when a sponsorship refund fails and a smaller one is re-issued, then the pool holds what Stripe holds: the payment less the re-issued refund', async () => {
    const eurPool = async () =>
      (await poolReport(deps, String(campaign._id))).find((r) => r.currency === 'eur') ?? {
        moneyIn: 0,
        refunded: 0,
      };
    const before = await eurPool();
    const bohdan = await sponsorPays('bohdan@example.com', 2 * PRICE);
    const failed = {
      id: `re_${bohdan.paymentIntent}`,
      object: 'refund',
      amount: 2 * PRICE,
      currency: 'eur',
      charge: `ch_${bohdan.paymentIntent}`,
      payment_intent: bohdan.paymentIntent,
      created: T0 + 100,
      status: 'failed',
      failure_reason: 'expired_or_canceled_card',
      metadata: {},
    };
    const events = [
      stripeEvent('charge.refunded', charge(bohdan, { amountRefunded: 2 * PRICE }), T0 + 100),
      stripeEvent('refund.failed', failed, T0 + 200),
      stripeEvent('charge.refunded', charge(bohdan, { amountRefunded: PRICE }), T0 + 300),
    ];
    for (const event of [...events, events[1]!]) expect((await postEvent(app.url, event)).status).toBe(200);

    const after = await eurPool();
    expect([after.moneyIn - before.moneyIn, after.refunded - before.refunded]).toEqual([2 * PRICE, PRICE]);
  });
});

describe('sponsors and readers hear about it', () => {
  it('when sponsors ask what their money did, then each report counts the readers their money paid for, oldest money first, and names none', async () => {
    await sponsorPays('anna@example.com', 3 * PRICE);
    await sponsorPays('bohdan@example.com', 2 * PRICE);
    for (const id of await confirmedRequests(4)) expect(await approve(id)).toBe('granted');
    const sent = await sendSponsorReports(deps, campaign, '2026-11');
    expect(sent.sort((a, b) => a.email.localeCompare(b.email))).toEqual([
      { email: 'anna@example.com', readers: 3 },
      { email: 'bohdan@example.com', readers: 1 },
    ]);
    const jobs = await emailModels(app.deps.db).EmailJob.find({ template: 'sponsor-report' }).lean();
    expect(jobs.map((j) => [j.to.email, j.data.readers]).sort()).toEqual([
      ['anna@example.com', 3],
      ['bohdan@example.com', 1],
    ]);
    expect(JSON.stringify(jobs)).not.toMatch(/reader\d/);
  });

  it('when a reader asks, confirms by email from an auto-approved domain, then their membership is granted and delivered in their language', async () => {
    await sponsorPays('anna@example.com', PRICE);
    await requestSponsorship(deps, {
      campaign,
      email: 'olha@students.example.edu',
      reason: 'Student in Kharkiv',
      country: 'UA',
      locale: 'uk',
    });
    await requestSponsorship(deps, {
      campaign,
      email: 'olha@students.example.edu',
      reason: 'again',
      country: 'UA',
      locale: 'uk',
    }); // asking twice is one request
    const [job] = await emailModels(app.deps.db).EmailJob.find({ template: 'sponsorship-confirm' }).lean();
    expect(job).toMatchObject({ locale: 'uk', to: { email: 'olha@students.example.edu' } });
    const link = new URL(String(job!.data.confirmUrl));
    expect(
      await confirmSponsorshipRequest(deps, link.searchParams.get('request')!, 'wrong-token'),
    ).toBeNull();
    await confirmSponsorshipRequest(deps, link.searchParams.get('request')!, link.searchParams.get('token')!);
    const request = await sponsorshipModels(app.deps.db).Request.findOne().lean();
    expect(request).toMatchObject({ status: 'approved', decidedBy: 'rule:students.example.edu' });
    await deliverDueGifts(giftDepsFrom(app.deps.config, app.deps));
    const gift = await giftModel(app.deps.db).findById(request!._id).lean<Gift>();
    expect(gift).toMatchObject({ status: 'delivered', durationMonths: 12, locale: 'uk' });
    const delivery = await emailModels(app.deps.db).EmailJob.findOne({ template: 'gift-delivery' }).lean();
    expect(delivery).toMatchObject({ locale: 'uk', to: { email: 'olha@students.example.edu' } });
    expect(await sponsorshipModels(app.deps.db).Request.countDocuments()).toBe(1);
    expect(Types.ObjectId.isValid(String(request!._id))).toBe(true);
  });
});
