import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { type LogLeaf, transparencyModels } from '../../src/campaigns/drive-log/log.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import {
  charge,
  checkoutSession,
  dispute,
  firstInvoicePaid,
  type Purchase,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  T0,
  type TestEvent,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// What the public drive log says when a counted member is taken back: each revocation is a leaf of
// its own naming the member's addition, so a verifier sees the count drop and why. Both ways a
// payment goes back arrive as Stripe sends them, through the signed webhook: a full refund and a
// lost dispute (docs/adr/0012-money-booked-when-stripe-moves-it.md).

let fake: FakeStripe;
let app: TestApp;
const clock = manualClock(new Date(T0 * 1000));
let campaign: Campaign;

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: 'UTC', PROGRESS_CACHE_SECONDS: '0' }),
    deps: { clock, stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection) },
  });
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: `revocations-${Date.now().toString(36)}`,
      title: 'Our birthday drive',
      goal: 100,
      startsAt: new Date((T0 - 3600) * 1000),
      endsAt: new Date((T0 + 5 * 86_400) * 1000),
      timeZone: 'UTC',
      startingOffset: 0,
    })
  ).toObject();
});
afterAll(async () => {
  await app.close();
  await fake.close();
});

/** A reader joins through checkout and pays their first invoice: a counted member. */
function joins(p: Purchase): TestEvent[] {
  fake.charge({
    id: `ch_${p.paymentIntent}`,
    paymentIntent: p.paymentIntent,
    amount: p.amount,
    currency: 'eur',
    created: p.at,
    invoice: `in_${p.subscription}`,
  });
  const first = firstInvoicePaid(p);
  return [
    stripeEvent('checkout.session.completed', checkoutSession({ ...p, campaign: campaign.slug }), p.at),
    stripeEvent('invoice.paid', first, p.at + 2),
  ];
}

/** Their first payment refunded in full, in the Stripe Dashboard. */
function refunded(p: Purchase, at: number): TestEvent[] {
  fake.refund({ charge: `ch_${p.paymentIntent}`, amount: p.amount, created: at });
  return [stripeEvent('charge.refunded', charge(p, { amountRefunded: p.amount }), at)];
}

/** Their first payment disputed and the dispute lost. */
function lostToDispute(p: Purchase, at: number): TestEvent[] {
  const id = `dp_${p.paymentIntent}`;
  fake.dispute({ id, charge: `ch_${p.paymentIntent}`, created: at, status: 'lost' });
  const event = (type: string, status: string, created: number) =>
    stripeEvent(type, dispute(p, status, id, { at }), created);
  return [
    event('charge.dispute.created', 'needs_response', at),
    event('charge.dispute.funds_withdrawn', 'needs_response', at),
    event('charge.dispute.closed', 'lost', at + 900),
  ];
}

async function deliver(events: TestEvent[]) {
  for (const event of events) expect((await postEvent(app.url, event)).status).toBe(200);
  await settleStripeEvents(app);
}

const leaves = () =>
  transparencyModels(app.deps.db)
    .Leaf.find({ campaignId: String(campaign._id) })
    .sort({ index: 1 })
    .lean<LogLeaf[]>();

async function progressCount(): Promise<number> {
  const res = await fetch(`${app.url}/campaigns/${campaign.slug}/progress`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { count: number }).count;
}

/** The drive log's addition for a member, and the revocations naming it. */
async function logOf(email: string) {
  const member = await membershipModels(app.deps.db).Member.findOne({ email }).lean();
  const record = `${campaign._id}:member:${member!._id}`;
  const all = await leaves();
  const added = all.filter((l) => l.kind === 'add' && l.recordId === record);
  const revoked = all.filter((l) => l.kind === 'revoke' && l.recordId === record);
  return { added, revoked };
}

describe('the drive log records each member taken back', () => {
  it('when one counted member is refunded in full and another loses a dispute, then the log holds a revoke leaf naming each addition and the progress count drops with each', async () => {
    const refund = purchase({ amount: 900, currency: 'eur', at: T0 });
    const chargeback = purchase({ amount: 900, currency: 'eur', at: T0 + 60 });
    const joining = [...joins(refund), ...joins(chargeback)];
    await deliver(joining);
    expect(await progressCount()).toBe(2);
    expect((await leaves()).map((l) => l.kind)).toEqual(['offset', 'add', 'add']);

    const refunding = refunded(refund, T0 + 3600);
    await deliver(refunding);
    expect(await progressCount()).toBe(1);
    const first = await logOf(refund.email);
    expect(first.added).toHaveLength(1);
    expect(first.revoked.map((l) => l.revokes)).toEqual([first.added[0]!.index]);

    const disputing = lostToDispute(chargeback, T0 + 7200);
    await deliver(disputing);
    expect(await progressCount()).toBe(0);
    const second = await logOf(chargeback.email);
    expect(second.added).toHaveLength(1);
    expect(second.revoked.map((l) => l.revokes)).toEqual([second.added[0]!.index]);

    // Stripe delivers again: nothing is counted or taken back twice.
    await deliver([...joining, ...refunding, ...disputing]);
    expect((await leaves()).map((l) => l.kind)).toEqual(['offset', 'add', 'add', 'revoke', 'revoke']);
    expect(await progressCount()).toBe(0);
  });
});
