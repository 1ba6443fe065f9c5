import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemberSession } from '../../src/accounts/member-session.js';
import { memberRecord } from '../../src/console/member-record.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { deep, seededRandom } from '../support/depth.js';
import { staffToken } from '../support/staff.js';
import {
  checkoutSession,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  subscription,
  T0,
  type TestEvent,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Stripe pauses a subscription whose trial ended without a payment method (and, at the pinned API
// version, one paused on request or after failed payments): no invoices, no retries. That is not
// dunning: the member shows as paused everywhere staff and the reader look, and a resumed
// subscription makes them active again, whatever order the events come in.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

/** The subscription as Stripe sends it when paused: status `paused` and why, in status_details. */
function paused(p: ReturnType<typeof purchase>) {
  return {
    ...subscription(p, 'paused'),
    status_details: {
      paused: {
        type: 'subscription',
        transitioned_at: T0 + 100,
        subscription: { type: 'trial_end_without_payment_method' },
      },
    },
  };
}

/** A trial member (checkout, subscription trialing), then Stripe pauses it and maybe resumes it. */
function lifecycle(p: ReturnType<typeof purchase>, resumed: boolean): TestEvent[] {
  return [
    stripeEvent('checkout.session.completed', checkoutSession(p), T0),
    stripeEvent('customer.subscription.created', subscription(p, 'trialing'), T0 + 1),
    stripeEvent('customer.subscription.paused', paused(p), T0 + 100),
    stripeEvent('customer.subscription.updated', paused(p), T0 + 100),
    ...(resumed
      ? [
          stripeEvent('customer.subscription.resumed', subscription(p, 'active'), T0 + 200),
          stripeEvent('customer.subscription.updated', subscription(p, 'active'), T0 + 200),
        ]
      : []),
  ];
}

async function deliver(events: TestEvent[]) {
  for (const event of events) expect((await postEvent(app.url, event)).status).toBe(200);
  await settleStripeEvents(app);
}

const memberOf = async (email: string) =>
  (await membershipModels(app.deps.db).Member.findOne({ email }).lean())!;

async function supporters(status: string): Promise<string[]> {
  const res = await fetch(`${app.url}/reports/supporters?status=${status}&limit=1000`, {
    headers: { authorization: (await staffToken(app.url, app.deps.db, 'finance')).authorization },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: { email: string }[] }).items.map((r) => r.email);
}

async function accountPage(memberId: string): Promise<string> {
  const session = await startMemberSession(
    { db: app.deps.db, clock: app.deps.clock, sessions: { days: 1, idleDays: 1 } },
    memberId,
  );
  return (await fetch(`${app.url}/account`, { headers: { cookie: `md_member=${session}` } })).text();
}

describe('a paused subscription', () => {
  it('when a trial ends without a card and Stripe pauses the subscription, then the member is paused, not past due, in the record, the account page and the supporters report', async () => {
    const p = purchase({ email: 'paused@example.com' });
    await deliver(lifecycle(p, false));
    const member = await memberOf(p.email);
    expect(member.status).toBe('paused');
    expect((await memberRecord(app.deps.db, String(member._id), app.deps.clock.now()))!.member.status).toBe(
      'paused',
    );
    const page = await accountPage(String(member._id));
    expect(page).toContain('<dd data-field="status">paused</dd>');
    expect(page).toContain('data-field="paused"');
    expect(page).not.toContain('data-field="next-payment"');
    expect(await supporters('paused')).toContain(p.email);
    expect(await supporters('past_due')).not.toContain(p.email);
  });

  it('when a paused subscription is resumed, then the member is active again and the account page shows the next payment', async () => {
    const p = purchase({ email: 'resumed@example.com' });
    await deliver(lifecycle(p, true));
    const member = await memberOf(p.email);
    expect(member.status).toBe('active');
    const page = await accountPage(String(member._id));
    expect(page).toContain('<dd data-field="status">active</dd>');
    expect(page).not.toContain('data-field="paused"');
    expect(page).toContain('data-field="next-payment"');
    expect(await supporters('active')).toContain(p.email);
  });

  it('when pause and resume events arrive shuffled and duplicated, then the member ends as the newest event says: paused, or active once resumed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 6, maxLength: 6 }),
        async (resumed, seed, copies) => {
          const p = purchase();
          const [checkout, ...rest] = lifecycle(p, resumed);
          const deliveries = rest.flatMap((e, i) => Array.from({ length: copies[i]! }, () => e));
          const random = seededRandom(seed);
          for (let i = deliveries.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
          }
          // The checkout first: subscription events wait for their member (a 5xx, Stripe retries).
          await deliver([checkout!, ...deliveries]);
          const member = await memberOf(p.email);
          expect(member.status).toBe(resumed ? 'active' : 'paused');
          const mirror = await membershipModels(app.deps.db).Subscription.findById(p.subscription).lean();
          expect(mirror!.status).toBe(resumed ? 'active' : 'paused');
        },
      ),
      { numRuns: deep(8) },
    );
  });
});
