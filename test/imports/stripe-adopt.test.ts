import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { emailModels } from '../../src/email/email.model.js';
import { giftDepsFrom } from '../../src/gifts/gift-deps.js';
import { adoptStripeAccount } from '../../src/imports/stripe-adopt.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { findMemberByCustomer } from '../../src/memberships/member-keys.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { registerModels } from '../../src/models.js';
import { replayStripeEvents } from '../../webhooks/replay.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import { postEvent, stripeEvent, T0 } from '../support/stripe-events.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';
import { importDeps, snapshot } from './import-support.js';
import { plantAccount, SINCE } from './stripe-account.js';

let app: TestApp;
let fake: FakeStripe;
let stripe: Stripe;
let campaign: Campaign;

beforeAll(async () => {
  fake = await startFakeStripe();
  stripe = createStripeClient('sk_test_adopt', fake.connection)!;
  plantAccount(fake);
  app = await startTestApp(); // STRIPE_ADOPT_UNTAGGED off: only adopted objects are ours
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'birthday',
      title: '1,000 new members for our birthday',
      goal: 1000,
      startsAt: new Date('2026-11-01T00:00:00Z'),
      endsAt: new Date('2026-12-01T00:00:00Z'),
      timeZone: 'UTC',
      startingOffset: 0,
    })
  ).toObject();
});
afterAll(async () => {
  await app.close();
  await fake.close();
});

const adopt = () =>
  adoptStripeAccount(
    { ...importDeps(app.deps.db, app.deps.clock), stripe, timeZone: 'UTC' },
    { since: SINCE, pageSize: 5 },
  );
const member = (customer: string) => findMemberByCustomer(app.deps.db, customer);
const post = async (type: string, object: Record<string, unknown>, created = T0) =>
  (await postEvent(app.url, stripeEvent(type, object, created))).status;

const untaggedSubscription = (id: string, customer: string, status: string, amount = 500) => ({
  id,
  object: 'subscription',
  customer,
  status,
  cancel_at_period_end: false,
  metadata: {},
  items: {
    object: 'list',
    data: [
      {
        id: `si_${id}`,
        current_period_end: T0 + 30 * 86_400,
        price: { unit_amount: amount, currency: 'eur', recurring: { interval: 'month' } },
      },
    ],
  },
});

describe('adopting the Stripe account', () => {
  it('when a dry run walks the account, then it counts what would be adopted and writes nothing', async () => {
    const before = await snapshot(app.deps.db);
    const summary = await adoptStripeAccount(
      { ...importDeps(app.deps.db, app.deps.clock), stripe, timeZone: 'UTC' },
      { since: SINCE, pageSize: 5, dryRun: true },
    );
    expect(summary).toMatchObject({ dryRun: true, rows: 13, created: 12, existing: 0 });
    expect(summary.details).toMatchObject({ invoices: 11, charges: 1 });
    expect(await snapshot(app.deps.db)).toEqual(before);
  });

  it('when the account is walked page by page, then each customer with a subscription not ours is an imported member with its real dates, subscriptions, invoices, charges and refunds', async () => {
    const summary = await adopt();
    expect(summary).toMatchObject({ kind: 'stripe', rows: 13, created: 12, existing: 0 });
    expect(summary.rejected).toEqual([
      { line: 'cus_NOEMAIL', email: '', reason: 'the Stripe customer has no email' },
    ]);
    expect(summary.details).toEqual({ subscriptions: 14, invoices: 11, charges: 1, refunds: 1 });
    // Several pages of each list were read.
    const pages = (path: string) => fake.requests.filter((r) => r.path === path).length;
    expect(pages('/v1/customers')).toBeGreaterThanOrEqual(3);
    expect(pages('/v1/subscriptions')).toBeGreaterThanOrEqual(3);

    expect(await member('cus_A01')).toMatchObject({
      email: 'adopted.a01@example.com',
      source: 'imported',
      status: 'active',
      joinedAt: new Date((1_610_000_000 + 10 * 86_400) * 1000),
    });
    expect(await member('cus_A05')).toMatchObject({ status: 'past_due' });
    expect(await member('cus_A12')).toMatchObject({
      status: 'canceled',
      endedAt: new Date(1_700_000_000_000),
    });
    expect(await member('cus_DONOR')).toBeNull();
    expect(await member('cus_OURS')).toBeNull();

    const { Subscription } = membershipModels(app.deps.db);
    expect(await Subscription.findById('sub_A06b').lean()).toMatchObject({
      source: 'imported',
      status: 'active',
      amount: 1500,
      memberId: (await member('cus_A06'))!._id,
    });
    expect(await Subscription.findById('sub_OURS').lean()).toBeNull();

    const ledger = ledgerModel(app.deps.db);
    expect(await ledger.findById('in_A07_oct').lean()).toMatchObject({
      kind: 'subscription_payment',
      amount: 500,
      source: 'imported',
      memberId: (await member('cus_A07'))!._id,
      month: '2026-10',
    });
    expect(await ledger.findById('in_A01_2025').lean()).toBeNull();
    expect(await ledger.findById('pi_DONOR').lean()).toMatchObject({
      kind: 'one_time_payment',
      amount: 2500,
    });
    expect(await ledger.findById('refund:ch_A02:200').lean()).toMatchObject({
      kind: 'refund',
      amount: -200,
      reverses: 'in_A02_oct',
      source: 'imported',
    });
  });

  it('when a customer has two subscriptions, listed newest first as Stripe lists them, then the member joined when the first one started', async () => {
    const listed = [];
    for await (const sub of stripe.subscriptions.list({ status: 'all', limit: 100 }))
      if (sub.customer === 'cus_A06' || sub.customer === 'cus_A03') listed.push(sub.id);
    expect(listed).toEqual(['sub_A06b', 'sub_A06', 'sub_A03', 'sub_A03old']);
    // A paying member who added a second subscription later: joined with the first.
    expect((await member('cus_A06'))?.joinedAt).toEqual(new Date((1_610_000_000 + 60 * 86_400) * 1000));
    // A member whose first subscription ended long ago: still joined then.
    expect((await member('cus_A03'))?.joinedAt).toEqual(new Date(1_580_000_000 * 1000));
  });

  it('when the account was adopted, then nobody was emailed and the drive counts none of them', async () => {
    expect(await emailModels(app.deps.db).EmailJob.countDocuments()).toBe(0);
    expect(await countOf(app.deps.db, campaign)).toBe(0);
  });

  it('when the adoption runs again, then nothing changes', async () => {
    const before = await snapshot(app.deps.db);
    const again = await adopt();
    expect(again).toMatchObject({ created: 0, existing: 12 });
    expect(await snapshot(app.deps.db)).toEqual(before);
  });
});

describe('adopted subscriptions afterwards', () => {
  it('when an adopted subscription renews, then the payment is recorded for its member', async () => {
    const status = await post('invoice.paid', {
      id: 'in_A01_nov',
      object: 'invoice',
      customer: 'cus_A01',
      customer_email: 'adopted.a01@example.com',
      amount_paid: 500,
      amount_due: 500,
      currency: 'eur',
      status: 'paid',
      billing_reason: 'subscription_cycle',
      status_transitions: { paid_at: T0 },
      parent: {
        type: 'subscription_details',
        subscription_details: { subscription: 'sub_A01', metadata: {} },
      },
    });
    expect(status).toBe(200);
    expect(await ledgerModel(app.deps.db).findById('in_A01_nov').lean()).toMatchObject({
      amount: 500,
      memberId: (await member('cus_A01'))!._id,
    });
  });

  it('when an adopted subscription is canceled, then its member is canceled; when one of two is canceled, the member stays active', async () => {
    expect(
      await post('customer.subscription.deleted', untaggedSubscription('sub_A04', 'cus_A04', 'canceled')),
    ).toBe(200);
    expect(await member('cus_A04')).toMatchObject({ status: 'canceled' });
    expect(
      await post('customer.subscription.deleted', untaggedSubscription('sub_A06', 'cus_A06', 'canceled')),
    ).toBe(200);
    expect(await member('cus_A06')).toMatchObject({ status: 'active' });
    expect(
      await post('customer.subscription.updated', untaggedSubscription('sub_A08', 'cus_A08', 'past_due')),
    ).toBe(200);
    expect(await member('cus_A08')).toMatchObject({ status: 'past_due' });
  });

  it('when an adopted payment is refunded, then the refund reverses it, continuing a refund made before the import', async () => {
    const refunded = (id: string, pi: string, amountRefunded: number) => ({
      id,
      object: 'charge',
      amount: 500,
      amount_refunded: amountRefunded,
      refunded: amountRefunded === 500,
      currency: 'eur',
      customer: null,
      payment_intent: pi,
      metadata: {},
    });
    expect(await post('charge.refunded', refunded('ch_A07', 'pi_A07', 500))).toBe(200);
    expect(await post('charge.refunded', refunded('ch_A02', 'pi_A02', 500))).toBe(200);
    const ledger = ledgerModel(app.deps.db);
    expect(await ledger.findById('refund:ch_A07:500').lean()).toMatchObject({
      amount: -500,
      reverses: 'in_A07_oct',
      fullRefund: true,
    });
    expect(await ledger.findById('refund:ch_A02:500').lean()).toMatchObject({
      amount: -300,
      reverses: 'in_A02_oct',
    });
  });

  it("when a stranger's subscription without our metadata changes, then it is still ignored", async () => {
    expect(
      await post('customer.subscription.updated', untaggedSubscription('sub_X', 'cus_STRANGER', 'active')),
    ).toBe(200);
    expect(await membershipModels(app.deps.db).Subscription.findById('sub_X').lean()).toBeNull();
  });

  it('then the supporters report and revenue include the adopted members and their money, and the drive still counts none', async () => {
    const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
    const supporters = (await (
      await fetch(`${app.url}/reports/supporters?source=imported&limit=100`, { headers: { authorization } })
    ).json()) as { items: { email: string; status: string }[] };
    expect(supporters.items).toHaveLength(12);
    expect(supporters.items.find((i) => i.email === 'adopted.a04@example.com')?.status).toBe('canceled');

    const revenue = (await (
      await fetch(`${app.url}/reports/revenue?from=2026-10&to=2026-11`, { headers: { authorization } })
    ).json()) as { rows: { period: string; gross: number; refunds: number }[] };
    const october = revenue.rows.find((r) => r.period === '2026-10')!;
    expect(october).toMatchObject({ gross: 11 * 500 + 2500, refunds: -200 });
    const november = revenue.rows.find((r) => r.period === '2026-11')!;
    expect(november).toMatchObject({ gross: 500, refunds: -500 - 300 });
    expect(await countOf(app.deps.db, campaign)).toBe(0);
  });
});

describe('replay', () => {
  it('when the stored events are replayed, then they rebuild the same state on top of what was imported', async () => {
    const report = await replayStripeEvents(
      app.deps.db,
      {
        clock: app.deps.clock,
        logger: app.deps.logger,
        linkSecret: app.deps.config.session.secret,
        timeZone: 'UTC',
        publicBaseUrl: 'http://members.test',
        gifts: giftDepsFrom(app.deps.config, { ...app.deps, stripe: null }),
      },
      registerModels,
    );
    expect(report.compared.members).toBe(12);
    expect(report.differences).toEqual([]);
  });
});

describe('STRIPE_ADOPT_UNTAGGED', () => {
  it("when it is on, then a subscription made by the newsroom's older forms is ours: its payment makes a member and its cancellation applies", async () => {
    const own = await startTestApp({ config: testConfig({ STRIPE_ADOPT_UNTAGGED: 'true' }) });
    try {
      const send = async (type: string, object: Record<string, unknown>, created = T0) =>
        (await postEvent(own.url, stripeEvent(type, object, created))).status;
      expect(
        await send('invoice.paid', {
          id: 'in_OLDFORM',
          object: 'invoice',
          customer: 'cus_OLDFORM',
          customer_email: 'old.form@example.com',
          amount_paid: 700,
          amount_due: 700,
          currency: 'eur',
          status: 'paid',
          billing_reason: 'subscription_create',
          status_transitions: { paid_at: T0 },
          parent: {
            type: 'subscription_details',
            subscription_details: { subscription: 'sub_OLDFORM', metadata: {} },
          },
        }),
      ).toBe(200);
      expect(await findMemberByCustomer(own.deps.db, 'cus_OLDFORM')).toMatchObject({
        email: 'old.form@example.com',
        status: 'active',
      });
      expect(
        await send(
          'customer.subscription.deleted',
          untaggedSubscription('sub_OLDFORM', 'cus_OLDFORM', 'canceled'),
          T0 + 60,
        ),
      ).toBe(200);
      expect(await findMemberByCustomer(own.deps.db, 'cus_OLDFORM')).toMatchObject({ status: 'canceled' });
    } finally {
      await own.close();
    }
  });
});
