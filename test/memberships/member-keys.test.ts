import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import {
  backfillMemberKeys,
  findMemberByCustomer,
  findMemberByEmail,
} from '../../src/memberships/member-keys.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import {
  checkoutSession,
  invoice,
  postEvent,
  purchase,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Members are found by email and by Stripe customer through key documents whose `_id` is the
// natural key, so these paths are primary-key reads on every backend (FerretDB scans any other
// filter: about a second per lookup at the newsroom's size).

let app: TestApp;
/** Every filter the app sends to the members collection, recorded through mongoose's debug hook. */
const memberFilters: { method: string; filter: unknown }[] = [];

beforeAll(async () => {
  app = await startTestApp();
  app.deps.db.set('debug', (collection: string, method: string, filter: unknown) => {
    if (collection === 'members') memberFilters.push({ method, filter });
  });
});
afterAll(() => app.close());
beforeEach(() => {
  memberFilters.length = 0;
});

const onlyById = (filters: { method: string; filter: unknown }[]) =>
  filters
    .filter(({ method }) => !['insertOne', 'insertMany', 'createIndex'].includes(method))
    .filter(({ filter }) => {
      const keys = Object.keys((filter ?? {}) as object);
      return !(keys.length === 1 && keys[0] === '_id');
    });

describe('finding members by their natural keys', () => {
  it('when a reader joins, renews and signs in, then every members query is by _id', async () => {
    const p = purchase();
    expect(
      (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p), T0))).status,
    ).toBe(200);
    expect(
      (
        await postEvent(
          app.url,
          stripeEvent('customer.subscription.created', subscription(p, 'active'), T0 + 1),
        )
      ).status,
    ).toBe(200);
    expect((await postEvent(app.url, stripeEvent('invoice.paid', invoice(p), T0 + 2))).status).toBe(200);
    const again = purchase({ email: p.email, customer: p.customer });
    expect(
      (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(again), T0 + 3)))
        .status,
    ).toBe(200);
    const signIn = await fetch(`${app.url}/account/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: p.email.toUpperCase() }),
    });
    expect(signIn.status).toBeLessThan(300);

    expect(memberFilters.length).toBeGreaterThan(0);
    expect(onlyById(memberFilters)).toEqual([]);
    const member = await findMemberByEmail(app.deps.db, p.email);
    expect(member?.stripeCustomerId).toBe(p.customer);
    expect(String((await findMemberByCustomer(app.deps.db, p.customer))?._id)).toBe(String(member?._id));
  });

  it('when 20 checkouts of one new reader race, then one member, one welcome email, and both keys name it', async () => {
    const p = purchase();
    const sessions = Array.from({ length: 20 }, () => purchase({ email: p.email, customer: p.customer }));
    const answers = await Promise.all(
      sessions.map((s, i) =>
        postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(s), T0 + i)),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(sessions.map(() => 200));
    const { Member } = membershipModels(app.deps.db);
    const members = await Member.find({ email: p.email }).lean();
    expect(members).toHaveLength(1);
    expect(String((await findMemberByEmail(app.deps.db, p.email))?._id)).toBe(String(members[0]!._id));
    expect(String((await findMemberByCustomer(app.deps.db, p.customer))?._id)).toBe(String(members[0]!._id));
    const welcomes = await emailModels(app.deps.db).EmailJob.countDocuments({
      template: 'member-welcome',
      'to.email': p.email,
    });
    expect(welcomes).toBe(1);
  });

  it('when members were stored before the keys existed, then the backfill finds them and a new checkout reuses them', async () => {
    const { Member } = membershipModels(app.deps.db);
    // Written around the model (no hooks), as data from before this version is.
    await Member.collection.insertOne({
      email: 'longtime@example.com',
      stripeCustomerId: 'cus_longtime',
      locale: 'en',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2020-01-01'),
      joinedVia: 'cs_old',
    });
    expect(await findMemberByEmail(app.deps.db, 'longtime@example.com')).toBeNull();
    expect(await backfillMemberKeys(app.deps.db)).toBeGreaterThan(0);
    expect((await findMemberByEmail(app.deps.db, 'longtime@example.com'))?.joinedVia).toBe('cs_old');
    expect((await findMemberByCustomer(app.deps.db, 'cus_longtime'))?.joinedVia).toBe('cs_old');

    await Member.collection.insertOne({
      email: 'missed@example.com',
      locale: 'en',
      status: 'active',
      source: 'checkout',
      joinedAt: new Date('2020-01-01'),
      joinedVia: 'cs_missed',
    });
    const p = purchase({ email: 'missed@example.com' });
    expect(
      (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p), T0))).status,
    ).toBe(200);
    expect(await Member.countDocuments({ email: 'missed@example.com' })).toBe(1);
    expect((await findMemberByEmail(app.deps.db, 'missed@example.com'))?.joinedVia).toBe('cs_missed');
  });
});
