import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { rebuildCampaignCounts } from '../../src/campaigns/rebuild.js';
import { emailModels } from '../../src/email/email.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import {
  charge,
  checkoutSession,
  invoice,
  postEvent,
  purchase,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Readers come back, pay twice, change their address in Stripe: a member's status and the drive's
// count must follow what they really have, in any order the events arrive.

let app: TestApp;
let campaign: Campaign;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());
beforeEach(async () => {
  campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: `drive-${Math.random().toString(36).slice(2, 8)}`,
      title: 'Drive',
      goal: 1000,
      startsAt: new Date('2026-11-01T00:00:00Z'),
      endsAt: new Date('2026-12-01T00:00:00Z'),
      timeZone: 'UTC',
      startingOffset: 0,
      counts: { gifts: true, oneTime: true },
    })
  ).toObject();
});

const send = async (type: string, object: Record<string, unknown>, at: number) =>
  (await postEvent(app.url, stripeEvent(type, object, at))).status;
const memberOf = async (email: string) =>
  membershipModels(app.deps.db).Member.find({ email: email.trim().toLowerCase() }).lean();
const canceledEmails = (email: string) =>
  emailModels(app.deps.db).EmailJob.countDocuments({ template: 'membership-canceled', 'to.email': email });

it('when a reader cancels and rejoins, and the old subscription ends late, then they stay an active member', async () => {
  const first = purchase();
  const again = purchase({ email: first.email, customer: first.customer });
  expect(await send('checkout.session.completed', checkoutSession(first), T0)).toBe(200);
  expect(await send('customer.subscription.created', subscription(first, 'active'), T0 + 1)).toBe(200);
  expect(await send('checkout.session.completed', checkoutSession(again), T0 + 200)).toBe(200);
  expect(await send('customer.subscription.created', subscription(again, 'active'), T0 + 201)).toBe(200);
  expect(await send('customer.subscription.deleted', subscription(first, 'canceled'), T0 + 150)).toBe(200);
  // And a stale update of the old one, delivered after everything else.
  expect(await send('customer.subscription.updated', subscription(first, 'active'), T0 + 100)).toBe(200);

  const [member] = await memberOf(first.email);
  expect(member).toMatchObject({ status: 'active' });
  expect(member!.endedAt ?? null).toBeNull();
  expect(await canceledEmails(first.email)).toBe(0);
  expect(await countOf(app.deps.db, campaign)).toBe(1);
});

it('when a reader pays through two subscriptions and one ends, then they stay active; when both end, they are canceled and told once', async () => {
  const one = purchase();
  const two = purchase({ email: one.email });
  for (const [p, at] of [
    [one, T0],
    [two, T0 + 10],
  ] as const) {
    expect(await send('checkout.session.completed', checkoutSession(p), at)).toBe(200);
    expect(await send('customer.subscription.created', subscription(p, 'active'), at + 1)).toBe(200);
  }
  expect(await send('customer.subscription.deleted', subscription(one, 'canceled'), T0 + 50)).toBe(200);
  expect((await memberOf(one.email))[0]).toMatchObject({ status: 'active' });
  expect(await canceledEmails(one.email)).toBe(0);

  expect(await send('customer.subscription.deleted', subscription(two, 'canceled'), T0 + 60)).toBe(200);
  const [member] = await memberOf(one.email);
  expect(member).toMatchObject({ status: 'canceled' });
  expect(member!.endedAt?.getTime()).toBe((T0 + 60) * 1000);
  expect(await canceledEmails(one.email)).toBe(1);
});

it('when a reader changes their address in Stripe, then the next renewal keeps them one member, counted once', async () => {
  const p = purchase();
  expect(await send('checkout.session.completed', checkoutSession(p), T0)).toBe(200);
  expect(await send('customer.subscription.created', subscription(p, 'active'), T0 + 1)).toBe(200);
  expect(await send('invoice.paid', invoice({ ...p, email: `renamed-${p.email}` }), T0 + 100)).toBe(200);

  expect(await memberOf(`renamed-${p.email}`)).toHaveLength(0);
  expect(await memberOf(p.email)).toHaveLength(1);
  expect(await countOf(app.deps.db, campaign)).toBe(1);
});

it('when a counted one-time contribution is fully refunded, then the drive takes it back, and the rebuild agrees', async () => {
  const p = purchase({ amount: 2500 });
  expect(await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), T0)).toBe(200);
  expect(await countOf(app.deps.db, campaign)).toBe(1);
  expect(await send('charge.refunded', charge(p, { amountRefunded: 1000, kind: 'one_time' }), T0 + 60)).toBe(
    200,
  );
  expect(await countOf(app.deps.db, campaign)).toBe(1); // a partial refund leaves it paid
  expect(await send('charge.refunded', charge(p, { amountRefunded: 2500, kind: 'one_time' }), T0 + 90)).toBe(
    200,
  );
  expect(await countOf(app.deps.db, campaign)).toBe(0);
  const report = (await rebuildCampaignCounts(app.deps.db)).find((r) => r.slug === campaign.slug);
  expect(report).toMatchObject({ live: 0, stored: 0 });
});
