import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { emailModels } from '../../src/email/email.model.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { exportReaderData } from '../../src/retention/reader-data.service.js';
import type { SponsorshipGranted } from '../../src/shared/domain-events.js';
import { allocate, poolState } from '../../src/sponsorship/pool.service.js';
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
import {
  charge,
  checkoutSession,
  dispute,
  outcomeOf,
  type Purchase,
  postEvent,
  purchase,
  stripeEvent,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// The sponsorship rules as the people they touch see them: what Stripe's events put in (and take
// out of) a drive's pool, which request an editor's decision reaches, what a granted reader gets,
// what a webhook receiver is told, and the words and figures staff read. Each test has a drive of
// its own, so no pool is shared. Races and the pool's runs: pool.test.ts and model.test.ts.

let app: TestApp;
let deps: SponsorshipDeps;
const granted: SponsorshipGranted[] = [];
const PRICE = 5000; // a year's gift in EUR and USD (the default gift options)

beforeAll(async () => {
  app = await startTestApp({
    config: testConfig({ SPONSORSHIP_AUTO_APPROVE_DOMAINS: 'students.example.edu' }),
  });
  deps = sponsorshipDepsFrom(app.deps.config, app.deps);
  // What partners' webhooks are sent (src/integrations/webhook-events.ts) is built from this event.
  app.deps.events.on('sponsorship.granted', (event) => {
    granted.push(event);
  });
});
afterAll(() => app.close());

let drives = 0;
async function newDrive(): Promise<Campaign> {
  const now = app.deps.clock.now().getTime();
  const n = ++drives;
  return (
    await campaignModels(app.deps.db).Campaign.create({
      slug: `drive-${n}`,
      title: `Drive number ${n}`,
      goal: 100,
      startsAt: new Date(now - 86_400_000),
      endsAt: new Date(now + 86_400_000),
      timeZone: 'UTC',
    })
  ).toObject();
}

const sponsorshipMetadata = (campaign: Campaign | string) => ({
  app: METADATA_APP,
  kind: 'sponsorship',
  campaignId: typeof campaign === 'string' ? campaign : String(campaign._id),
  locale: 'en',
});

/** A supporter's paid sponsorship Checkout Session, as Stripe's signed webhook delivers it. */
async function pays(
  campaign: Campaign | string,
  p: Partial<Purchase> & { amount: number },
  session: Record<string, unknown> = {},
) {
  const bought = purchase({ currency: 'eur', ...p });
  const event = stripeEvent(
    'checkout.session.completed',
    {
      ...checkoutSession(bought, { kind: 'one_time', metadata: sponsorshipMetadata(campaign) }),
      ...session,
    },
    bought.at,
  );
  expect((await postEvent(app.url, event)).status).toBe(200);
  return { p: bought, outcome: await outcomeOf(app.url, event.id) };
}

const refunds = async (p: Purchase, amountRefunded: number, at = p.at + 100) =>
  expect(
    (await postEvent(app.url, stripeEvent('charge.refunded', charge(p, { amountRefunded }), at))).status,
  ).toBe(200);

async function requests(campaign: Campaign, n: number, status = 'requested') {
  const docs = await sponsorshipModels(app.deps.db).Request.insertMany(
    Array.from({ length: n }, () => ({
      campaignId: campaign._id,
      email: `reader-${new Types.ObjectId()}@example.org`,
      reason: 'I study and cannot pay',
      country: 'UA',
      locale: 'en',
      status,
      tokenHash: 'x',
    })),
  );
  return docs.map((d) => String(d._id));
}

const approve = (id: string, on: SponsorshipDeps = deps) =>
  decideRequest(on, id, { decision: 'approve', by: 'staff:editor' });
const eurPool = async (campaign: Campaign) =>
  (await poolReport(deps, String(campaign._id))).find((r) => r.currency === 'eur')!;
const storedRequest = (id: string) => sponsorshipModels(app.deps.db).Request.findById(id).lean();
const grantOf = (id: string) => granted.find((g) => g.requestId === id);

describe('what a sponsorship payment puts in the pool', () => {
  it('when a session is unpaid or names no drive, then it is ignored and nothing is booked; a paid one is booked under its PaymentIntent with the address the payer gave, in lower case', async () => {
    const campaign = await newDrive();
    const unpaid = await pays(campaign, { amount: PRICE }, { payment_status: 'unpaid' });
    const noDrive = await pays('not-a-drive', { amount: PRICE });
    for (const { p, outcome } of [unpaid, noDrive]) {
      expect(outcome).toBe('ignored');
      expect(await ledgerModel(app.deps.db).findById(p.paymentIntent).lean()).toBeNull();
    }
    expect((await eurPool(campaign)).moneyIn).toBe(0);

    // The address typed at Checkout, or (without the payer's details) the one the session was made for.
    const typed = await pays(
      campaign,
      { amount: 3 * PRICE, at: T0 + 100 },
      { customer_details: { email: 'Anna.Payer@Example.COM', name: null }, customer_email: null },
    );
    const given = await pays(
      campaign,
      { amount: PRICE, at: T0 + 200 },
      { customer_details: null, customer_email: 'bohdan@example.com' },
    );
    expect([typed.outcome, given.outcome]).toEqual(['applied', 'applied']);
    expect(await ledgerModel(app.deps.db).findById(typed.p.paymentIntent).lean()).toMatchObject({
      kind: 'one_time_payment',
      plan: 'sponsorship',
      amount: 3 * PRICE,
      email: 'anna.payer@example.com',
      campaign: String(campaign._id),
    });
    const { funds } = await poolState(app.deps.db, String(campaign._id), 'eur', PRICE);
    expect(funds.map((f) => [f.entryId, f.sponsorEmail, f.amount])).toEqual([
      [typed.p.paymentIntent, 'anna.payer@example.com', 3 * PRICE],
      [given.p.paymentIntent, 'bohdan@example.com', PRICE],
    ]);
  });
});

describe('disputes and refunds', () => {
  it('when a sponsorship payment is disputed, then the pool keeps the money while the dispute is open; lost, the pool gives up the disputed amount once', async () => {
    const campaign = await newDrive();
    const { p: anna } = await pays(campaign, { amount: 3 * PRICE, at: T0 + 100 });
    await pays(campaign, { amount: 2 * PRICE, at: T0 + 200 });
    const disputed = (status: string) => dispute(anna, status, undefined, { at: T0 + 300 });
    const withdrawn = stripeEvent('charge.dispute.funds_withdrawn', disputed('needs_response'), T0 + 300);
    expect((await postEvent(app.url, withdrawn)).status).toBe(200);
    expect(await outcomeOf(app.url, withdrawn.id)).toBe('applied');
    expect(await eurPool(campaign)).toMatchObject({ moneyIn: 5 * PRICE, refunded: 0, balance: 5 * PRICE });

    const lost = stripeEvent('charge.dispute.closed', disputed('lost'), T0 + 900);
    for (const event of [lost, lost, stripeEvent('charge.dispute.closed', disputed('lost'), T0 + 950)])
      expect((await postEvent(app.url, event)).status).toBe(200);
    expect(await eurPool(campaign)).toMatchObject({
      moneyIn: 5 * PRICE,
      refunded: 3 * PRICE,
      balance: 2 * PRICE,
      available: 2,
    });
  });

  it('when a one-time contribution made for a drive is refunded or lost in a dispute, then no pool is touched: it was not sponsorship money', async () => {
    const campaign = await newDrive();
    const { Fund } = sponsorshipModels(app.deps.db);
    const before = await Fund.countDocuments();
    const contribution = (at: number) =>
      purchase({ amount: 3000, currency: 'eur', campaign: campaign.slug, at });
    const [refunded, disputed] = [contribution(T0 + 100), contribution(T0 + 200)];
    for (const p of [refunded, disputed])
      expect(
        (
          await postEvent(
            app.url,
            stripeEvent('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), p.at),
          )
        ).status,
      ).toBe(200);
    await refunds(refunded, 1000);
    const lost = stripeEvent(
      'charge.dispute.closed',
      dispute(disputed, 'lost', undefined, { at: T0 + 300 }),
      T0 + 900,
    );
    expect((await postEvent(app.url, lost)).status).toBe(200);

    // Both were booked as what they are, with the drive they were given for …
    const booked = await ledgerModel(app.deps.db)
      .find({ _id: { $in: [refunded.paymentIntent, disputed.paymentIntent] } })
      .lean();
    expect(booked.map((e) => [e.plan, e.campaign])).toEqual([
      ['one_time', campaign.slug],
      ['one_time', campaign.slug],
    ]);
    expect(await ledgerModel(app.deps.db).countDocuments({ reverses: refunded.paymentIntent })).toBe(1);
    expect(await outcomeOf(app.url, lost.id)).toBe('applied');
    // … and no pool holds a refund or a chargeback of them.
    expect(await Fund.countDocuments()).toBe(before);
  });
});

describe('readers confirming and staff deciding', () => {
  it('when a reader from the auto-approved domain confirms while the pool is empty, then only their request waits for funds, and an editor approving it once money came in grants it', async () => {
    const campaign = await newDrive();
    const [other] = await requests(campaign, 1, 'declined');
    const email = 'olha@students.example.edu';
    await requestSponsorship(deps, {
      campaign,
      email,
      reason: 'Student in Kharkiv',
      country: 'UA',
      locale: 'uk',
    });
    const job = await emailModels(app.deps.db)
      .EmailJob.findOne({ template: 'sponsorship-confirm', 'to.email': email })
      .lean();
    const link = new URL(String(job!.data.confirmUrl));
    const id = link.searchParams.get('request')!;
    expect(await confirmSponsorshipRequest(deps, id, link.searchParams.get('token')!)).not.toBeNull();
    expect(await storedRequest(id)).toMatchObject({
      status: 'waiting_for_funds',
      decidedBy: 'rule:students.example.edu',
    });
    expect((await storedRequest(other!))!.status).toBe('declined');

    await pays(campaign, { amount: PRICE });
    expect(await approve(id)).toBe('granted');
    expect((await storedRequest(id))!.status).toBe('approved');
  });

  it('when staff decide a request whose reader never confirmed, then it is not found: nothing is granted, declined or sent', async () => {
    const campaign = await newDrive();
    await pays(campaign, { amount: PRICE });
    const [unconfirmed] = await requests(campaign, 1, 'unconfirmed');
    expect(await approve(unconfirmed!)).toBe('not_found');
    expect(await decideRequest(deps, unconfirmed!, { decision: 'decline', by: 'staff:editor' })).toBe(
      'not_found',
    );
    expect(await approve(String(new Types.ObjectId()))).toBe('not_found');
    expect((await storedRequest(unconfirmed!))!.status).toBe('unconfirmed');
    expect(await giftModel(app.deps.db).findById(unconfirmed).lean()).toBeNull();
    expect((await eurPool(campaign)).membershipsGiven).toBe(0);
  });

  it('when an editor declines one request, then that request is declined with the note and its reader is told which drive; the others stay as they were', async () => {
    const campaign = await newDrive();
    const [kept, declined] = await requests(campaign, 2);
    expect(
      await decideRequest(deps, declined!, {
        decision: 'decline',
        note: 'outside the programme',
        by: 'staff:editor',
      }),
    ).toBe('declined');
    expect(await storedRequest(declined!)).toMatchObject({
      status: 'declined',
      note: 'outside the programme',
      decidedBy: 'staff:editor',
    });
    expect((await storedRequest(kept!))!.status).toBe('requested');
    const told = await emailModels(app.deps.db)
      .EmailJob.findOne({ template: 'sponsorship-declined', idempotencyKey: `sponsor-declined:${declined}` })
      .lean();
    expect(told?.data).toEqual({ campaignTitle: campaign.title });
  });
});

describe('what a granted reader gets, and what partners are told', () => {
  it('when a request is granted, then the reader gets a year’s gift from the supporters, unnamed, in the pool’s currency, which their data export shows; partners hear what the pool paid', async () => {
    const campaign = await newDrive();
    const eurOnly = { ...deps, prices: { eur: PRICE } };
    await pays(campaign, { amount: PRICE });
    const [id] = await requests(campaign, 1);
    await sponsorshipModels(app.deps.db).Request.updateOne(
      { _id: id },
      { email: 'olha@example.org', locale: 'uk' },
    );
    expect(await approve(id!, eurOnly)).toBe('granted');

    const now = app.deps.clock.now();
    expect(grantOf(id!)).toEqual({
      requestId: id,
      campaign: campaign.slug,
      durationMonths: 12,
      amount: PRICE,
      currency: 'eur',
      grantedAt: now,
    });
    const message = `Supporters of our journalism sponsored this membership for you (${campaign.title}).`;
    expect(await giftModel(app.deps.db).findById(id).lean()).toMatchObject({
      status: 'paid',
      purchaser: deps.from,
      recipient: { name: 'olha', email: 'olha@example.org' },
      message,
      showPurchaserName: false,
      durationMonths: 12,
      amount: 0,
      currency: 'eur',
      locale: 'uk',
      campaign: campaign.slug,
    });
    expect((await exportReaderData(app.deps.db, 'olha@example.org')).gifts).toEqual([
      {
        role: 'recipient',
        status: 'paid',
        durationMonths: 12,
        from: null,
        message,
        deliverAt: now,
        createdAt: expect.any(Date),
      },
    ]);
  });

  it('when an approval stopped after taking its allocation and the price rose before it was approved again, then the reader gets that allocation and partners hear the price it was taken at', async () => {
    const campaign = await newDrive();
    const eurOnly = { ...deps, prices: { eur: PRICE } };
    await pays(campaign, { amount: 4 * PRICE });
    const [first, retried] = await requests(campaign, 2);
    expect(await approve(first!, eurOnly)).toBe('granted');
    const state = await poolState(app.deps.db, String(campaign._id), 'eur', PRICE);
    const pool = `${campaign._id}:eur`;
    expect(await allocate(app.deps.db, state, retried!, app.deps.clock.now())).toBe(`${pool}#1`);

    expect(await approve(retried!, { ...deps, prices: { eur: 6000 } })).toBe('granted');
    expect(await storedRequest(retried!)).toMatchObject({ status: 'approved', allocation: `${pool}#1` });
    expect(grantOf(retried!)).toMatchObject({ amount: PRICE, currency: 'eur' });
    expect((await poolState(app.deps.db, String(campaign._id), 'eur', PRICE)).allocations).toBe(2);
  });

  it('when an approval is retried after it took the pool’s last membership, then it gets the same membership and a gift is made', async () => {
    const campaign = await newDrive();
    const eurOnly = { ...deps, prices: { eur: PRICE } };
    await pays(campaign, { amount: PRICE });
    const [retried, next] = await requests(campaign, 2);
    const state = await poolState(app.deps.db, String(campaign._id), 'eur', PRICE);
    const pool = `${campaign._id}:eur`;
    // The approval took the membership, then its process died before the gift.
    expect(await allocate(app.deps.db, state, retried!, app.deps.clock.now())).toBe(`${pool}#0`);

    expect(await approve(retried!, eurOnly)).toBe('granted');
    expect(await storedRequest(retried!)).toMatchObject({ status: 'approved', allocation: `${pool}#0` });
    expect(await giftModel(app.deps.db).findById(retried).lean()).toMatchObject({ status: 'paid' });
    expect(grantOf(retried!)).toMatchObject({ amount: PRICE, currency: 'eur' });
    // The pool gave its one membership once: the next approval waits for money.
    expect(await approve(next!, eurOnly)).toBe('waiting_for_funds');
    expect(await eurPool(campaign)).toMatchObject({ membershipsGiven: 1, balance: 0, available: 0 });
  });
});

describe('which pool pays', () => {
  it('when pools in two currencies hold money, then each approval is paid from the money that came in first and is not yet spent, whatever the currency', async () => {
    const both = { ...deps, prices: { usd: PRICE, eur: PRICE } };
    const campaign = await newDrive();
    await pays(campaign, { amount: PRICE, currency: 'eur', at: T0 + 100 });
    await pays(campaign, { amount: PRICE, currency: 'usd', at: T0 + 200 });
    const [r1, r2] = await requests(campaign, 2);
    expect(await approve(r1!, both)).toBe('granted');
    expect(grantOf(r1!)?.currency).toBe('eur');
    // The EUR money of T0+100 is spent; the USD money of T0+200 came before the new EUR money.
    await pays(campaign, { amount: PRICE, currency: 'eur', at: T0 + 300 });
    expect(await approve(r2!, both)).toBe('granted');
    expect(grantOf(r2!)?.currency).toBe('usd');
  });

  it('when the pool with the oldest money holds less than a membership, then the next pool that can pay does', async () => {
    const both = { ...deps, prices: { usd: PRICE, eur: PRICE } };
    const campaign = await newDrive();
    await pays(campaign, { amount: 2000, currency: 'usd', at: T0 + 100 });
    await pays(campaign, { amount: PRICE, currency: 'eur', at: T0 + 200 });
    const [id] = await requests(campaign, 1);
    expect(await approve(id!, both)).toBe('granted');
    expect(grantOf(id!)?.currency).toBe('eur');
  });
});

describe('what staff read', () => {
  let editorToken: Promise<string> | undefined;
  const editor = async () => {
    editorToken ??= staffToken(app.url, app.deps.db, 'editor').then((t) => t.authorization);
    return { authorization: await editorToken, 'content-type': 'application/json' };
  };
  const decide = async (campaign: Campaign, ids: string[]) => {
    const res = await fetch(`${app.url}/sponsorships/${campaign.slug}/decisions`, {
      method: 'POST',
      headers: await editor(),
      body: JSON.stringify({ ids, decision: 'approve' }),
    });
    expect(res.status).toBe(200);
    return (await res.json()).results;
  };

  it('when finance asks for a drive’s pool report, then it gets one report per currency sponsorships are sold in, and nothing else', async () => {
    const campaign = await newDrive();
    await pays(campaign, { amount: 12_000 });
    const [id] = await requests(campaign, 1);
    expect(await approve(id!)).toBe('granted');
    const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
    const res = await fetch(`${app.url}/reports/sponsorship/${campaign.slug}`, {
      headers: { authorization },
    });
    const empty = { moneyIn: 0, refunded: 0, balance: 0, deficit: 0, membershipsGiven: 0, available: 0 };
    expect(await res.json()).toEqual({
      campaign: campaign.slug,
      pools: [
        { currency: 'usd', price: PRICE, ...empty },
        {
          currency: 'eur',
          price: PRICE,
          moneyIn: 12_000,
          refunded: 0,
          balance: 7000,
          deficit: 0,
          membershipsGiven: 1,
          available: 1,
        },
        { currency: 'gbp', price: 4200, ...empty },
      ],
    });
  });

  it('when an approval waits, then the editor reads why: an empty pool, or each pool in deficit and what new money would grant it', async () => {
    const empty = await newDrive();
    const [waiting] = await requests(empty, 1);
    expect(await decide(empty, [waiting!])).toEqual([
      {
        id: waiting,
        outcome: 'waiting_for_funds',
        code: 'pool_empty',
        message:
          'The pool has no money for another membership. The approval waits (waiting_for_funds): approve it again once money comes in.',
      },
    ]);

    const campaign = await newDrive();
    const { p: dollars } = await pays(campaign, { amount: PRICE, currency: 'usd', at: T0 + 100 });
    const { p: euros } = await pays(campaign, { amount: PRICE, currency: 'eur', at: T0 + 200 });
    const [a, b, c] = await requests(campaign, 3);
    expect([await approve(a!), await approve(b!)]).toEqual(['granted', 'granted']);
    await refunds(dollars, PRICE);
    await refunds(euros, PRICE);
    expect(await decide(campaign, [c!])).toEqual([
      {
        id: c,
        outcome: 'waiting_for_funds',
        code: 'pool_deficit',
        message:
          'Refunds took out more than was left: the USD pool is in deficit by US$50.00; the EUR pool is in deficit by €50.00. Memberships already given stand. The approval waits (waiting_for_funds): approve it again once new money covers the deficit and one membership (US$100.00 or €100.00).',
      },
    ]);
  });

  it('when sponsors ask what their money did after refunds, then each counts the readers their money net of refunds paid for, a failed refund giving the money back', async () => {
    const campaign = await newDrive();
    const { p: anna } = await pays(campaign, { email: 'anna@example.com', amount: 3 * PRICE, at: T0 + 100 });
    const { p: carol } = await pays(campaign, {
      email: 'carol@example.com',
      amount: 2 * PRICE,
      at: T0 + 200,
    });
    await refunds(carol, PRICE, T0 + 300);
    await refunds(anna, 2 * PRICE, T0 + 400);
    const failed = {
      id: `re_${anna.paymentIntent}`,
      object: 'refund',
      amount: 2 * PRICE,
      currency: 'eur',
      charge: `ch_${anna.paymentIntent}`,
      payment_intent: anna.paymentIntent,
      created: T0 + 500,
      status: 'failed',
      failure_reason: 'expired_or_canceled_card',
      metadata: {},
    };
    expect((await postEvent(app.url, stripeEvent('refund.failed', failed, T0 + 500))).status).toBe(200);
    await pays(campaign, { email: 'bohdan@example.com', amount: 2 * PRICE, at: T0 + 600 });
    // Money in order, net of refunds: Anna 3 memberships' worth, Carol 1, Bohdan 2; five are given.
    for (const id of await requests(campaign, 5)) expect(await approve(id)).toBe('granted');

    const sent = await sendSponsorReports(deps, campaign, '2026-11');
    expect(sent.sort((x, y) => x.email.localeCompare(y.email))).toEqual([
      { email: 'anna@example.com', readers: 3 },
      { email: 'bohdan@example.com', readers: 1 },
      { email: 'carol@example.com', readers: 1 },
    ]);
  });
});
