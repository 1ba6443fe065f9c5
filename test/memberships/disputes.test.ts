import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { rebuildCampaignCounts } from '../../src/campaigns/rebuild.js';
import { emailModels } from '../../src/email/email.model.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { type LedgerEntry, ledgerModel } from '../../src/ledger/ledger.model.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { reconciliationBody } from '../../src/reports/reports.docs.js';
import { poolState } from '../../src/sponsorship/pool.service.js';
import { deep } from '../support/depth.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import {
  charge,
  checkoutSession,
  dispute,
  firstInvoicePaid,
  type Purchase,
  paidGiftSession,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  T0,
  type TestEvent,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Disputes book money when Stripe moves it (docs/adr/0012-money-booked-when-stripe-moves-it.md), and
// a lost one takes back what a full refund takes back. Every lifecycle is delivered through the
// signed webhook in a random order with random redeliveries, and then checked as finance and the
// drive would see it: the ledger, Stripe's fee, the campaign's count, the pool, and reconciliation
// against the scripted Stripe account, to the cent.

const DAY = 86_400;
let fake: FakeStripe;
let app: TestApp;
const clock = manualClock(new Date(T0 * 1000));

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection) },
  });
});
afterAll(async () => {
  await app.close();
  await fake.close();
});

let run = 0;
/** Each run on its own days, ten apart, with its own campaign: runs never meet in a report. */
async function freshDays(): Promise<{ base: number; campaign: Campaign }> {
  const base = T0 + ++run * 10 * DAY;
  clock.set(new Date(base * 1000));
  const campaign = await campaignModels(app.deps.db).Campaign.create({
    slug: `disputes-${run}`,
    title: `Disputes ${run}`,
    goal: 100,
    startsAt: new Date((base - 3600) * 1000),
    endsAt: new Date((base + 5 * DAY) * 1000),
    timeZone: 'UTC',
    counts: { gifts: true, oneTime: true },
  });
  return { base, campaign: campaign.toObject() };
}

/** Every event at least once, in the drawn order, some twice (Stripe redelivers), then the queue drained. */
const deliveryOrder = (n: number) =>
  fc
    .tuple(
      fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
      fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n)), { maxLength: 3 }),
    )
    .map(([order, again]) => {
      const all = [...order];
      for (const [event, at] of again) all.splice(at, 0, event);
      return all;
    });

/** The lifecycles differ in length: each run draws its order for its own events. */
const drawOrder = (n: number, seed: number) => fc.sample(deliveryOrder(n), { numRuns: 1, seed })[0]!;

async function deliver(events: TestEvent[], order: number[]) {
  for (const i of order) expect((await postEvent(app.url, events[i]!)).status).toBe(200);
  await settleStripeEvents(app);
}

const ledgerOf = async (paymentId: string) =>
  (await ledgerModel(app.deps.db).find().lean<LedgerEntry[]>())
    .filter((e) => e._id === paymentId || e.reverses === paymentId)
    .sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a._id.localeCompare(b._id));

const day = (seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10);
async function reconcile(seconds: number) {
  // Signed in now: the clock has moved days since the last report.
  const finance = { authorization: (await staffToken(app.url, app.deps.db, 'finance')).authorization };
  const res = await fetch(`${app.url}/reports/reconciliation?from=${day(seconds)}&to=${day(seconds)}`, {
    headers: finance,
  });
  expect(res.status).toBe(200);
  return reconciliationBody.parse(await res.json());
}
const clean = { missingOurs: [], missingStripe: [], amountDifferences: [] };

/** A one-time contribution paid at `base`, known to the scripted Stripe account. */
function contribution(base: number, amount = 3000) {
  const p = purchase({ amount, currency: 'eur', at: base });
  fake.charge({
    id: `ch_${p.paymentIntent}`,
    paymentIntent: p.paymentIntent,
    amount,
    currency: 'eur',
    created: base,
  });
  return {
    p,
    paid: stripeEvent('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), base),
  };
}

type Lifecycle = 'inquiry closed' | 'inquiry and a full refund' | 'lost' | 'won';

/** The events of one lifecycle, and what Stripe's account holds once it is over. */
function disputeEvents(p: Purchase, base: number, lifecycle: Lifecycle): TestEvent[] {
  const id = `dp_${p.paymentIntent}`;
  const chargeId = `ch_${p.paymentIntent}`;
  const at = { at: base + 100, reinstatedAt: base + 900 };
  const event = (type: string, status: string, created: number) =>
    stripeEvent(type, dispute(p, status, id, at), created);
  if (lifecycle === 'inquiry closed' || lifecycle === 'inquiry and a full refund') {
    const refunded = lifecycle === 'inquiry and a full refund';
    fake.dispute({ id, charge: chargeId, created: base + 100, inquiry: true, status: 'warning_closed' });
    if (refunded) fake.refund({ charge: chargeId, amount: p.amount, created: base + 200 });
    return [
      event('charge.dispute.created', 'warning_needs_response', base + 100),
      ...(refunded
        ? [
            stripeEvent(
              'charge.refunded',
              charge(p, { amountRefunded: p.amount, kind: 'one_time' }),
              base + 200,
            ),
          ]
        : []),
      event('charge.dispute.closed', 'warning_closed', base + 1000),
    ];
  }
  const won = lifecycle === 'won';
  fake.dispute({
    id,
    charge: chargeId,
    created: base + 100,
    ...(won ? { won: base + 900 } : { status: 'lost' }),
  });
  return [
    event('charge.dispute.created', 'needs_response', base + 100),
    event('charge.dispute.funds_withdrawn', 'needs_response', base + 100),
    ...(won ? [event('charge.dispute.funds_reinstated', 'won', base + 900)] : []),
    event('charge.dispute.closed', won ? 'won' : 'lost', base + 1000),
  ];
}

describe('disputes book money when Stripe moves it', () => {
  const expected: Record<Lifecycle, { ledger: [string, number][]; fees: number; counted: number }> = {
    // An inquiry is a question from the bank: nothing moved, nothing booked, nothing to reconcile.
    'inquiry closed': { ledger: [['one_time_payment', 3000]], fees: 0, counted: 1 },
    // Stripe's advice for an inquiry is a refund: taken back once, not twice.
    'inquiry and a full refund': {
      ledger: [
        ['one_time_payment', 3000],
        ['refund', -3000],
      ],
      fees: 0,
      counted: 0,
    },
    // Withdrawn with a 15.00 fee, and kept by the bank.
    lost: {
      ledger: [
        ['one_time_payment', 3000],
        ['dispute', -3000],
      ],
      fees: 1500,
      counted: 0,
    },
    // Withdrawn and reinstated, the fee with it: net nothing, still counted.
    won: {
      ledger: [
        ['one_time_payment', 3000],
        ['dispute', -3000],
        ['dispute_reversal', 3000],
      ],
      fees: 0,
      counted: 1,
    },
  };

  it('when an inquiry closes, an inquiry ends in a full refund, or a dispute is lost or won, delivered in any order and twice, then the ledger, the fee, the count and reconciliation are right to the cent', async () => {
    // Each lifecycle in turn (drawn at random, four runs could miss one), in random orders.
    const lifecycles: Lifecycle[] = ['inquiry closed', 'inquiry and a full refund', 'lost', 'won'];
    for (const lifecycle of lifecycles)
      await fc.assert(
        fc.asyncProperty(fc.context(), fc.infiniteStream(fc.nat()), async (ctx, seeds) => {
          const { base, campaign } = await freshDays();
          const { p, paid } = contribution(base);
          const events = [paid, ...disputeEvents(p, base, lifecycle)];
          const order = drawOrder(events.length, seeds.next().value);
          ctx.log(`${lifecycle}: ${order.map((i) => events[i]!.type).join(', ')}`);
          await deliver(events, order);

          const want = expected[lifecycle];
          const ledger = await ledgerOf(p.paymentIntent);
          expect(ledger.map((e) => [e.kind, e.amount])).toEqual(want.ledger);
          const disputed = ledger.filter((e) => e.kind.startsWith('dispute'));
          for (const e of disputed)
            expect(e).toMatchObject({ reason: 'fraudulent', reverses: p.paymentIntent });
          const fees = disputed.reduce((sum, e) => sum + (e.settlement?.fee ?? Number.NaN), 0);
          expect(fees).toBe(want.fees);
          expect(await countOf(app.deps.db, campaign)).toBe(want.counted);
          expect(await reconcile(base)).toMatchObject(clean);
        }),
        { numRuns: deep(1) },
      );
  });

  it('when a dispute is withdrawn before its created event arrives, then it is booked once, dated when Stripe withdrew it', async () => {
    const { base } = await freshDays();
    const { p, paid } = contribution(base, 1200);
    fake.dispute({
      id: `dp_${p.paymentIntent}`,
      charge: `ch_${p.paymentIntent}`,
      created: base + 100,
      status: 'lost',
    });
    // Stripe withdrew the money at base + 100; its events are sent a little later, in any order.
    const moved = { at: base + 100 };
    const withdrawn = stripeEvent(
      'charge.dispute.funds_withdrawn',
      dispute(p, 'needs_response', undefined, moved),
      base + 160,
    );
    const created = stripeEvent(
      'charge.dispute.created',
      dispute(p, 'needs_response', undefined, moved),
      base + 130,
    );
    const closed = stripeEvent('charge.dispute.closed', dispute(p, 'lost', undefined, moved), base + 900);
    await deliver([paid, withdrawn, created, closed], [0, 1, 2, 1, 3]);
    const entries = (await ledgerOf(p.paymentIntent)).filter((e) => e.kind === 'dispute');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ _id: `dp_${p.paymentIntent}`, amount: -1200 });
    expect(entries[0]!.occurredAt).toEqual(new Date((base + 100) * 1000));
  });
});

/** A gift bought on our pages for today, paid: its id and the purchase its dispute names. */
async function paidGift(base: number, campaign: Campaign) {
  const res = await fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.0.${run % 250}.1` },
    body: JSON.stringify({
      purchaserName: 'Olena',
      purchaserEmail: `buyer${run}@example.com`,
      recipientName: 'Taras',
      recipientEmail: `to${run}@example.com`,
      durationMonths: 12,
      currency: 'eur',
      deliverOn: day(base),
      campaign: campaign.slug,
    }),
  });
  expect(res.status).toBe(201);
  const { giftId } = (await res.json()) as { giftId: string };
  const p = purchase({ amount: 5000, currency: 'eur', at: base, paymentIntent: `pi_gift_${giftId}` });
  fake.charge({
    id: `ch_${p.paymentIntent}`,
    paymentIntent: p.paymentIntent,
    amount: 5000,
    currency: 'eur',
    created: base,
  });
  return { giftId, p, paid: stripeEvent('checkout.session.completed', paidGiftSession(giftId), base) };
}

async function redemptionCode(giftId: string): Promise<string> {
  for (let wait = 0; wait < 100; wait++) {
    const job = await emailModels(app.deps.db)
      .EmailJob.findOne({ idempotencyKey: `gift-delivery:${giftId}` })
      .lean();
    if (job) return new URL(String(job.data.redeemUrl)).searchParams.get('code')!;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the gift was never delivered');
}

const redeem = (code: string, email: string) =>
  fetch(`${app.url}/gifts/redeem`, {
    method: 'POST',
    headers: { 'x-forwarded-for': `10.1.${run % 250}.1` },
    body: new URLSearchParams({ code, email }),
  });

describe('a lost dispute takes back what a full refund takes back', () => {
  const outcome = fc.constantFrom<'lost' | 'won'>('lost', 'won');

  it("when a counted member's first payment is disputed, in any order, then a lost dispute takes their count back and a won one does not, and the rebuild agrees", async () => {
    await fc.assert(
      fc.asyncProperty(outcome, fc.infiniteStream(fc.nat()), async (result, seeds) => {
        const { base, campaign } = await freshDays();
        const p = purchase({ amount: 900, currency: 'eur', at: base });
        fake.charge({
          id: `ch_${p.paymentIntent}`,
          paymentIntent: p.paymentIntent,
          amount: 900,
          currency: 'eur',
          created: base,
          invoice: `in_${p.subscription}`,
        });
        const firstInvoice = firstInvoicePaid(p);
        const events = [
          stripeEvent('checkout.session.completed', checkoutSession(p), base),
          stripeEvent('invoice.paid', firstInvoice, base + 2),
          ...disputeEvents(p, base, result),
        ];
        const order = drawOrder(events.length, seeds.next().value);
        await deliver(events, order);

        expect(await countOf(app.deps.db, campaign)).toBe(result === 'lost' ? 0 : 1);
        const rebuilt = (await rebuildCampaignCounts(app.deps.db)).find((r) => r.slug === campaign.slug);
        expect(rebuilt).toMatchObject({ wronglyRevoked: [], notRevoked: [], missing: [], extra: [] });
        expect(rebuilt!.live).toBe(rebuilt!.recomputed);
        const member = await membershipModels(app.deps.db).Member.findOne({ email: p.email }).lean();
        const entries = await ledgerOf(firstInvoice.id);
        expect(entries.length).toBe(result === 'lost' ? 2 : 3);
        expect(entries.reduce((sum, e) => sum + e.amount, 0)).toBe(result === 'lost' ? 0 : 900);
        expect(entries.every((e) => String(e.memberId) === String(member!._id))).toBe(true);
        expect(await reconcile(base)).toMatchObject(clean);
      }),
      { numRuns: deep(2) },
    );
  });

  it('when a sponsorship payment is disputed, in any order, then a lost dispute takes its money out of the pool and a won one leaves it', async () => {
    await fc.assert(
      fc.asyncProperty(outcome, fc.infiniteStream(fc.nat()), async (result, seeds) => {
        const { base, campaign } = await freshDays();
        const p = purchase({ amount: 6000, currency: 'eur', at: base });
        fake.charge({
          id: `ch_${p.paymentIntent}`,
          paymentIntent: p.paymentIntent,
          amount: 6000,
          currency: 'eur',
          created: base,
        });
        const session = {
          ...checkoutSession(p, { kind: 'one_time' }),
          metadata: {
            app: METADATA_APP,
            kind: 'sponsorship',
            campaignId: String(campaign._id),
            locale: 'en',
          },
        };
        const events = [
          stripeEvent('checkout.session.completed', session, base),
          ...disputeEvents(p, base, result),
        ];
        const order = drawOrder(events.length, seeds.next().value);
        await deliver(events, order);

        const pool = await poolState(app.deps.db, String(campaign._id), 'eur', 6000);
        expect(pool.funded).toBe(result === 'lost' ? 0 : 6000);
        expect(await reconcile(base)).toMatchObject(clean);
      }),
      { numRuns: deep(2) },
    );
  });

  it('when a gift bought with the card is disputed, in any order, then a lost dispute makes it unredeemable and takes its count back; a won one changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(outcome, fc.infiniteStream(fc.nat()), async (result, seeds) => {
        const { base, campaign } = await freshDays();
        const { giftId, p, paid } = await paidGift(base, campaign);
        const events = [paid, ...disputeEvents(p, base, result)];
        const order = drawOrder(events.length, seeds.next().value);
        await deliver(events, order);

        expect(await countOf(app.deps.db, campaign)).toBe(result === 'lost' ? 0 : 1);
        const code = await redemptionCode(giftId);
        const res = await redeem(code, `reader${run}@example.com`);
        expect(res.status).toBe(result === 'lost' ? 410 : 200);
        expect((await giftModel(app.deps.db).findById(giftId).lean())?.status).toBe(
          result === 'lost' ? 'refunded' : 'redeemed',
        );
        expect(await reconcile(base)).toMatchObject(clean);
      }),
      { numRuns: deep(2) },
    );
  });

  it('when a dispute is lost after the gift was redeemed, then, as with a refund, the recipient’s gifted membership ends and the gift is refunded', async () => {
    const { base, campaign } = await freshDays();
    const { giftId, p, paid } = await paidGift(base, campaign);
    await deliver([paid], [0]);
    const reader = `reader${run}@example.com`;
    expect((await redeem(await redemptionCode(giftId), reader)).status).toBe(200);
    const events = disputeEvents(p, base, 'lost');
    await deliver(events, [0, 1, 2, 2]);

    const gift = await giftModel(app.deps.db).findById(giftId).lean();
    expect(gift?.status).toBe('refunded');
    const member = await membershipModels(app.deps.db).Member.findOne({ email: reader }).lean();
    expect(member?.status).toBe('expired');
    expect(await countOf(app.deps.db, campaign)).toBe(0);
  });
});
