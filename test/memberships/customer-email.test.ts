import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { findMemberByCustomer, findMemberByEmail } from '../../src/memberships/member-keys.js';
import { deep } from '../support/depth.js';
import {
  checkoutSession,
  outcomeOf,
  type Purchase,
  postEvent,
  purchase,
  stripeEvent,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// customer.updated: a member changes their email in the Customer Portal. One member per address
// (the new address is claimed by a unique insert; another member's address is never merged into),
// and the newest event wins whatever order and however many times events arrive.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());
afterEach(() => {
  vi.restoreAllMocks();
});

let seq = 0;
const customerUpdated = (p: Purchase, email: string, created: number, id = `evt_cu_${++seq}`) =>
  stripeEvent(
    'customer.updated',
    { id: p.customer, object: 'customer', email, name: 'Olena Test', metadata: {} },
    created,
    id,
  );
const deliver = async (event: ReturnType<typeof customerUpdated>) => {
  const res = await postEvent(app.url, event);
  expect(res.status).toBe(200);
  return { outcome: await outcomeOf(app.url, event.id) };
};
async function becomeMember(p: Purchase) {
  const res = await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p)));
  expect(res.status).toBe(200);
}
const memberOf = (p: Purchase) => findMemberByCustomer(app.deps.db, p.customer);

describe('customer.updated', () => {
  it('when a member changes their email in the Portal, then the member has the new address, both addresses find them, and the next sign-in link goes to the new one', async () => {
    const p = purchase();
    await becomeMember(p);
    const before = await memberOf(p);
    expect(await deliver(customerUpdated(p, ' New.Address@Example.com ', T0 + 100))).toMatchObject({
      outcome: 'applied',
    });
    const after = await memberOf(p);
    expect(after).toMatchObject({ _id: before!._id, email: 'new.address@example.com' });
    expect((await findMemberByEmail(app.deps.db, 'new.address@example.com'))?._id).toEqual(before!._id);
    // The old address still names this reader (one membership, never a second one from it) ...
    expect((await findMemberByEmail(app.deps.db, p.email))?._id).toEqual(before!._id);
    // ... but mail goes to the current address only.
    await fetch(`${app.url}/account/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: p.email }),
    });
    const signIn = await emailModels(app.deps.db).EmailJob.find({ template: 'account-sign-in' }).lean();
    expect(signIn.map((j) => j.to.email)).toEqual(['new.address@example.com']);
  });

  it('when a member who reads a newsletter changes their email, then the subscription and its consent stay with the address that gave them, and the new address is subscribed to nothing', async () => {
    const p = purchase();
    await becomeMember(p);
    const signup = await fetch(`${app.url}/newsletters/subscriptions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: p.email, lists: ['editors-picks'] }),
    });
    expect(signup.status).toBe(202);
    const newsletter = (email: string) =>
      Promise.all(
        ['newsletter_subscriptions', 'newsletter_consents'].map((c) =>
          app.deps.db.collection(c).countDocuments({ email }),
        ),
      );
    const before = await newsletter(p.email);
    expect(before[0]).toBeGreaterThan(0);
    const moved = `moved-${++seq}@example.com`;
    await deliver(customerUpdated(p, moved, T0 + 100));
    expect((await memberOf(p))?.email).toBe(moved);
    expect(await newsletter(p.email)).toEqual(before);
    expect(await newsletter(moved)).toEqual([0, 0]);
  });

  it('when an older change arrives after a newer one, or twice, then the newest address stays', async () => {
    const p = purchase();
    await becomeMember(p);
    const newer = customerUpdated(p, 'second@example.com', T0 + 200);
    const older = customerUpdated(p, 'first@example.com', T0 + 100);
    await deliver(newer);
    await deliver(older);
    await deliver(newer);
    await deliver(older);
    expect((await memberOf(p))?.email).toBe('second@example.com');
  });

  it('when the new address belongs to another member, then nobody is merged: the member keeps their address and staff see a warning', async () => {
    const warn = vi.spyOn(app.deps.logger, 'warn');
    const mine = purchase();
    const theirs = purchase();
    await becomeMember(mine);
    await becomeMember(theirs);
    await deliver(customerUpdated(mine, theirs.email, T0 + 100));
    expect((await memberOf(mine))?.email).toBe(mine.email);
    expect((await memberOf(theirs))?.email).toBe(theirs.email);
    expect((await findMemberByEmail(app.deps.db, theirs.email))?._id).toEqual((await memberOf(theirs))!._id);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ customerId: mine.customer }),
      expect.stringContaining('not merged'),
    );
  });

  it('when two members move to the same new address at the same moment, then exactly one gets it', async () => {
    const a = purchase();
    const b = purchase();
    await becomeMember(a);
    await becomeMember(b);
    const contested = `contested-${++seq}@example.com`;
    await Promise.all([
      deliver(customerUpdated(a, contested, T0 + 100)),
      deliver(customerUpdated(b, contested, T0 + 100)),
    ]);
    const emails = [(await memberOf(a))!.email, (await memberOf(b))!.email];
    expect(emails.filter((e) => e === contested)).toHaveLength(1);
    expect(emails).toContain(emails[0] === contested ? b.email : a.email);
    const owner = await findMemberByEmail(app.deps.db, contested);
    expect(owner?.email).toBe(contested);
  });

  it('when six changes race at once, then the member ends at the newest one’s address', async () => {
    for (let round = 0; round < 4; round++) {
      const p = purchase();
      await becomeMember(p);
      const run = ++seq;
      // Sent newest first, so the older deliveries that read late are the ones that must not win.
      const events = [5, 4, 3, 2, 1, 0].map((i) =>
        customerUpdated(p, `race${run}-${i}@example.com`, T0 + i, `evt_race${run}_${i}`),
      );
      await Promise.all(events.map(deliver));
      expect((await memberOf(p))?.email).toBe(`race${run}-5@example.com`);
    }
  });

  it('when a customer that is not a member changes their email, then nothing happens', async () => {
    const p = purchase();
    expect(await deliver(customerUpdated(p, 'someone@example.com', T0))).toMatchObject({
      outcome: 'ignored',
    });
    expect(await findMemberByEmail(app.deps.db, 'someone@example.com')).toBeNull();
  });

  it('when several changes are delivered in any order, some twice and some at once, then the member ends at the newest event’s address', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Each change: its second (ties happen) and which address it names.
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 3 }), address: fc.integer({ min: 0, max: 3 }) }), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.infiniteStream(fc.nat()),
        async (changes, randomness) => {
          const p = purchase();
          await becomeMember(p);
          const run = ++seq;
          const events = changes.map((c, i) =>
            customerUpdated(p, `run${run}-addr${c.address}@example.com`, T0 + c.at, `evt_run${run}_${i}`),
          );
          const newest = events.reduce((a, b) =>
            b.created > a.created || (b.created === a.created && b.id > a.id) ? b : a,
          );
          // Every event once, some twice, shuffled, delivered in concurrent waves of up to 3.
          const it = randomness[Symbol.iterator]();
          const next = () => it.next().value as number;
          const deliveries = [...events, ...events.filter(() => next() % 2 === 0)]
            .map((e) => ({ e, k: next() }))
            .sort((x, y) => x.k - y.k)
            .map((x) => x.e);
          while (deliveries.length) {
            await Promise.all(deliveries.splice(0, 1 + (next() % 3)).map(deliver));
          }
          expect((await memberOf(p))?.email).toBe(newest.object.email);
        },
      ),
      { numRuns: deep(12) },
    );
  });
});
