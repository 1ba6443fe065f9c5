import { afterAll, beforeAll, expect, it } from 'vitest';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { stripeEventModel } from '../../webhooks/stripe-event.model.js';
import { spawnScript } from '../support/server-process.js';
import {
  charge,
  checkoutSession,
  deliverEvent,
  dispute,
  invoice,
  purchase,
  replayOf,
  settleStripeEvents,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { databaseUri, startTestApp, type TestApp } from '../support/test-app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
  const monthly = purchase();
  const yearly = purchase({ plan: 'patron', interval: 'year', amount: 15000 });
  const gone = purchase();
  const once = purchase({ amount: 4000 });
  // Delivered out of order, with duplicates and a stale update, as Stripe does.
  const deliveries = [
    stripeEvent('customer.subscription.updated', subscription(monthly, 'active'), T0 + 2),
    stripeEvent('checkout.session.completed', checkoutSession(monthly), T0),
    stripeEvent('invoice.paid', invoice(monthly), T0 + 1),
    stripeEvent('checkout.session.completed', checkoutSession(yearly), T0 + 10),
    stripeEvent('invoice.paid', invoice(yearly), T0 + 11),
    stripeEvent('checkout.session.completed', checkoutSession(gone), T0 + 20),
    stripeEvent('customer.subscription.deleted', subscription(gone, 'canceled'), T0 + 500),
    stripeEvent('customer.subscription.updated', subscription(gone, 'active'), T0 + 400),
    stripeEvent('checkout.session.completed', checkoutSession(once, { kind: 'one_time' }), T0 + 30),
    stripeEvent('charge.refunded', charge(once, { amountRefunded: 1500, kind: 'one_time' }), T0 + 600),
    stripeEvent('charge.dispute.created', dispute(once, 'needs_response'), T0 + 700),
  ];
  for (const event of [...deliveries, deliveries[1]!]) // the last one a duplicate
    expect((await deliverEvent(app.url, event)).status).toBe(200);
  // Applying the first one failed (its member did not exist yet); the queue retries it.
  await settleStripeEvents(app);
});
afterAll(() => app.close());

const replay = () => replayOf(app);

it('when every stored event is replayed into an empty database, then it reproduces the same state', async () => {
  const report = await replay();
  expect(report.events).toBe(11);
  expect(report.compared).toEqual({ members: 3, subscriptions: 3, ledgerEntries: 5 });
  expect(report.differences).toEqual([]);
});

it('when the live state has drifted from the events, then replay names each difference', async () => {
  const entry = await ledgerModel(app.deps.db).findOne({ kind: 'one_time_payment' }).lean();
  await ledgerModel(app.deps.db).updateOne({ _id: entry!._id }, { $set: { amount: 3999 } });
  await membershipModels(app.deps.db).Member.updateOne(
    { status: 'canceled' },
    { $set: { status: 'active' } },
  );

  const { differences } = await replay();
  expect(differences).toEqual(
    expect.arrayContaining([
      `ledger entry ${entry!._id}: amount is 3999 now, 4000 after replay`,
      expect.stringMatching(/^member .*: status is "active" now, "canceled" after replay$/),
    ]),
  );
  expect(differences).toHaveLength(2);
});

it('when `npm run stripe:replay` finds differences, then it prints them and exits 1', async () => {
  const uri = databaseUri(app.deps.db.name);
  const cli = spawnScript('src/cli/stripe-replay.ts', { MONGODB_URI: uri });
  expect(await cli.exited).toBe(1);
  expect(cli.output()).toContain(
    'Replayed 11 events; compared 3 members, 3 subscriptions, 5 ledger entries.',
  );
  expect(cli.output()).toContain('DIFFERENCE ledger entry');
});

it('when an event failed for good, then replay names it as a difference', async () => {
  const event = await stripeEventModel(app.deps.db).findOne({ type: 'charge.dispute.created' }).lean();
  await stripeEventModel(app.deps.db).updateOne(
    { _id: event!._id },
    { $set: { status: 'failed', lastError: 'planted' } },
  );
  const { differences } = await replay();
  expect(differences).toContain(`event ${event!._id} (charge.dispute.created) failed for good: planted`);
});
