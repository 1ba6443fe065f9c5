import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adoptStripeAccount } from '../../src/imports/stripe-adopt.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { findMemberByCustomer } from '../../src/memberships/member-keys.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { importDeps } from '../imports/import-support.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { postEvent, stripeEvent, T0 } from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// One Stripe subscription, read by both paths that mirror it: adopting the account
// (`npm run import -- stripe`) and its customer.subscription.updated webhook. Both must store the
// same mirror, or an adopted member's plan and amount would change at their next event with
// nothing changed in Stripe.

let app: TestApp;
let fake: FakeStripe;
let stripe: Stripe;

// Three seats of a yearly price that names one of our tiers, with older metadata of its own.
const subscription = {
  id: 'sub_SAME',
  object: 'subscription',
  customer: 'cus_SAME',
  status: 'active',
  created: 1_700_000_000,
  start_date: 1_700_000_000,
  ended_at: null,
  cancel_at_period_end: false,
  metadata: { plan: 'legacy-gold' },
  items: {
    object: 'list',
    data: [
      {
        id: 'si_SAME',
        quantity: 3,
        current_period_end: T0 + 200 * 86_400,
        price: {
          unit_amount: 4000,
          currency: 'eur',
          lookup_key: 'membership:supporter:year:eur',
          recurring: { interval: 'year' },
        },
      },
    ],
  },
};

beforeAll(async () => {
  fake = await startFakeStripe();
  stripe = createStripeClient('sk_test_mirror', fake.connection)!;
  fake.put({
    id: 'cus_SAME',
    object: 'customer',
    email: 'same@example.com',
    name: 'Sam',
    created: 1_700_000_000,
  });
  fake.put(subscription);
  app = await startTestApp();
});
afterAll(async () => {
  await app.close();
  await fake.close();
});

// The fields a Stripe subscription decides (not the bookkeeping: which event, when, from where).
const MAPPED = 'memberId customerId status plan interval amount currency currentPeriodEnd cancelAtPeriodEnd';
const mirrorOf = async (id: string) => {
  const mirror = (await membershipModels(app.deps.db).Subscription.findById(id).lean())!;
  return Object.fromEntries(MAPPED.split(' ').map((f) => [f, mirror[f as keyof typeof mirror]]));
};

describe('one Stripe subscription, adopted and then heard from', () => {
  it('when adoption and the webhook read the same subscription, then they store the same mirror: the tier of its price, and unit amount × quantity', async () => {
    await adoptStripeAccount({ ...importDeps(app.deps.db, app.deps.clock), stripe, timeZone: 'UTC' });
    const adopted = await mirrorOf('sub_SAME');
    expect(adopted).toMatchObject({ plan: 'supporter', interval: 'year', amount: 12_000, currency: 'eur' });

    const response = await postEvent(app.url, stripeEvent('customer.subscription.updated', subscription, T0));
    expect(response.status).toBe(200);
    const heard = await mirrorOf('sub_SAME');
    expect(heard).toEqual(adopted);
    expect(await findMemberByCustomer(app.deps.db, 'cus_SAME')).toMatchObject({
      status: 'active',
      currentPeriodEnd: new Date((T0 + 200 * 86_400) * 1000),
    });
  });
});
