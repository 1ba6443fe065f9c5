import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { rebuildCampaignCounts } from '../../src/campaigns/rebuild.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { type LedgerEntry, ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { deep } from '../support/depth.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import {
  checkoutSession,
  dispute,
  invoice,
  type Purchase,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  T0,
  type TestEvent,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// A member who joined on a trial counts toward the drive at their first payment with money
// (ADR 0011): that payment, refunded in full or lost to a dispute, takes them back; a later
// renewal's refund does not. Every lifecycle is delivered through the signed webhook in any order,
// some events twice, and the live count must agree with `campaigns:rebuild`.

const DAY = 86_400;
const TRIAL = 14 * DAY;
const MONTH = 30 * DAY;
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
/** Each run on its own days with its own drive (running from the trial's start for 100 days). */
async function freshDays(): Promise<{ base: number; campaign: Campaign }> {
  const base = T0 + ++run * 200 * DAY;
  clock.set(new Date(base * 1000));
  const campaign = await campaignModels(app.deps.db).Campaign.create({
    slug: `trial-refunds-${run}`,
    title: `Trial refunds ${run}`,
    goal: 100,
    startsAt: new Date((base - 3600) * 1000),
    endsAt: new Date((base + 100 * DAY) * 1000),
    timeZone: 'UTC',
  });
  return { base, campaign: campaign.toObject() };
}

/** Every event at least once, in the drawn order, some twice (Stripe redelivers). */
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

async function deliver(events: TestEvent[], order: number[]) {
  for (const i of order) expect((await postEvent(app.url, events[i]!)).status).toBe(200);
  await settleStripeEvents(app);
}

/** One invoice of the subscription, billing the period [start, start + length]. */
function subscriptionInvoice(
  p: Purchase,
  billingReason: 'subscription_create' | 'subscription_cycle',
  start: number,
  length: number,
  paymentIntent?: string,
) {
  const base = {
    ...invoice(p, { billingReason }),
    status_transitions: { paid_at: start },
    lines: { object: 'list', data: [{ period: { start, end: start + length } }] },
  };
  if (!paymentIntent) return { ...base, amount_paid: 0, amount_due: 0 }; // the trial: $0
  fake.charge({
    id: `ch_${paymentIntent}`,
    paymentIntent,
    amount: p.amount,
    currency: p.currency,
    created: start,
    invoice: base.id,
  });
  return {
    ...base,
    payments: {
      object: 'list',
      data: [
        {
          object: 'invoice_payment',
          status: 'paid',
          payment: { type: 'payment_intent', payment_intent: paymentIntent },
        },
      ],
    },
  };
}

type Loss = 'first payment refunded' | 'first payment lost to a dispute' | 'renewal refunded';

/** How the chosen payment's money goes back: a full refund, or a dispute lost. */
function moneyBack(p: Purchase, paymentIntent: string, at: number, how: 'refund' | 'dispute'): TestEvent[] {
  if (how === 'refund') {
    fake.refund({ charge: `ch_${paymentIntent}`, amount: p.amount, created: at });
    const refunded = {
      id: `ch_${paymentIntent}`,
      object: 'charge',
      amount: p.amount,
      amount_refunded: p.amount,
      refunded: true,
      currency: p.currency,
      customer: p.customer,
      payment_intent: paymentIntent,
      metadata: {},
    };
    return [stripeEvent('charge.refunded', refunded, at)];
  }
  const id = `dp_${paymentIntent}`;
  fake.dispute({ id, charge: `ch_${paymentIntent}`, created: at, status: 'lost' });
  const disputed = { ...p, paymentIntent };
  const event = (type: string, status: string, created: number) =>
    stripeEvent(type, dispute(disputed, status, id, { at }), created);
  return [
    event('charge.dispute.created', 'needs_response', at),
    event('charge.dispute.funds_withdrawn', 'needs_response', at),
    event('charge.dispute.closed', 'lost', at + 1000),
  ];
}

/** A trial member: $0 first invoice, first real payment at the trial's end, a renewal, one loss. */
function trialLifecycle(base: number, loss: Loss) {
  const p = purchase({ amount: 800, currency: 'eur', at: base });
  const [firstPi, renewalPi] = [`pi_first_${p.subscription}`, `pi_renewal_${p.subscription}`];
  const trialInvoice = subscriptionInvoice(p, 'subscription_create', base + 1, TRIAL - 1);
  const firstPayment = subscriptionInvoice(p, 'subscription_cycle', base + TRIAL, MONTH, firstPi);
  const renewal = subscriptionInvoice(p, 'subscription_cycle', base + TRIAL + MONTH, MONTH, renewalPi);
  const events = [
    stripeEvent(
      'checkout.session.completed',
      { ...checkoutSession(p, { paymentStatus: 'no_payment_required' }), amount_total: 0 },
      base,
    ),
    stripeEvent('invoice.paid', trialInvoice, base + 1),
    stripeEvent('invoice.paid', firstPayment, base + TRIAL),
    stripeEvent('invoice.paid', renewal, base + TRIAL + MONTH),
    ...(loss === 'renewal refunded'
      ? moneyBack(p, renewalPi, base + TRIAL + MONTH + DAY, 'refund')
      : moneyBack(p, firstPi, base + TRIAL + DAY, loss === 'first payment refunded' ? 'refund' : 'dispute')),
  ];
  return { p, events, firstPayment, renewal };
}

describe('a trial member whose first real payment goes back', () => {
  const losses = fc.constantFrom<Loss>(
    'first payment refunded',
    'first payment lost to a dispute',
    'renewal refunded',
  );

  it('when the payment that made them count is refunded in full or lost to a dispute, in any order with duplicates, then they are taken back; when a renewal is refunded, they stay counted; and the rebuild agrees', async () => {
    await fc.assert(
      fc.asyncProperty(losses, fc.infiniteStream(fc.nat()), async (loss, seeds) => {
        const { base, campaign } = await freshDays();
        const { p, events, firstPayment, renewal } = trialLifecycle(base, loss);
        const order = fc.sample(deliveryOrder(events.length), { numRuns: 1, seed: seeds.next().value })[0]!;
        await deliver(events, order);

        const member = await membershipModels(app.deps.db).Member.findOne({ email: p.email }).lean();
        const taken = loss === 'renewal refunded' ? renewal.id : firstPayment.id;
        const entries = await ledgerModel(app.deps.db).find({ memberId: member!._id }).lean<LedgerEntry[]>();
        // Each payment once, its money gone back once.
        expect(entries.filter((e) => e.reverses === taken).reduce((s, e) => s + e.amount, 0)).toBe(-800);
        expect(entries.filter((e) => e.kind === 'subscription_payment').length).toBe(2);

        expect(await countOf(app.deps.db, campaign)).toBe(loss === 'renewal refunded' ? 1 : 0);
        const rebuilt = (await rebuildCampaignCounts(app.deps.db)).find((r) => r.slug === campaign.slug);
        expect(rebuilt).toMatchObject({ missing: [], extra: [], wronglyRevoked: [], notRevoked: [] });
        expect(rebuilt!.recomputed).toBe(rebuilt!.live);
      }),
      { numRuns: deep(6), endOnFailure: true },
    );
  });

  // The orders that matter most, each once, whatever the property draws: the loss delivered before
  // the trial's $0 invoice is recorded (the take-back waits for it), and after everything.
  for (const loss of [
    'first payment refunded',
    'first payment lost to a dispute',
    'renewal refunded',
  ] as const)
    for (const lossFirst of [true, false])
      it(`when ${loss}${lossFirst ? ' arrives before the trial’s $0 invoice' : ' arrives last'}, then the count is ${loss === 'renewal refunded' ? 1 : 0} and the rebuild agrees`, async () => {
        const { base, campaign } = await freshDays();
        const { events } = trialLifecycle(base, loss);
        // Indices: 0 checkout, 1 the $0 invoice, 2 first payment, 3 renewal, 4… the loss.
        const rest = events.map((_, i) => i).slice(4);
        const order = lossFirst ? [0, 2, 3, ...rest, 1, ...rest] : [0, 1, 2, 3, ...rest];
        await deliver(events, order);
        expect(await countOf(app.deps.db, campaign)).toBe(loss === 'renewal refunded' ? 1 : 0);
        const rebuilt = (await rebuildCampaignCounts(app.deps.db)).find((r) => r.slug === campaign.slug);
        expect(rebuilt).toMatchObject({ missing: [], extra: [], wronglyRevoked: [], notRevoked: [] });
        expect(rebuilt!.recomputed).toBe(rebuilt!.live);
      });
});
