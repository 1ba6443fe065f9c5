import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { deep, seedFrom } from '../support/depth.js';
import {
  charge,
  checkoutSession,
  paidGiftSession,
  postEvent,
  purchase,
  replayOf,
  settleStripeEvents,
  stripeEvent,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// `npm run stripe:replay` must say "no differences" for a healthy system, whatever order Stripe
// delivered in: otherwise it cries wolf, and real drift hides among false alarms. Two that did:
// gifts (bought on our pages before any event) and partial refunds delivered out of order.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

const replay = () => replayOf(app);

it('when a gift was bought, paid and refunded in two steps delivered backwards, then replay finds no difference', async () => {
  const res = await fetch(`${app.url}/gifts/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      purchaserName: 'Olena',
      purchaserEmail: 'buyer@example.com',
      recipientName: 'Taras',
      recipientEmail: 'taras@example.com',
      durationMonths: 12,
      currency: 'eur',
      deliverOn: '2026-11-27',
    }),
  });
  expect(res.status).toBe(201);
  const { giftId } = (await res.json()) as { giftId: string };
  const pi = `pi_gift_${giftId}`;
  const paid = stripeEvent('checkout.session.completed', paidGiftSession(giftId), T0);
  const refund = (amountRefunded: number, at: number) =>
    stripeEvent(
      'charge.refunded',
      {
        id: `ch_${pi}`,
        object: 'charge',
        amount: 5000,
        amount_refunded: amountRefunded,
        refunded: amountRefunded === 5000,
        currency: 'eur',
        payment_intent: pi,
        metadata: {},
      },
      at,
    );
  for (const event of [paid, refund(5000, T0 + 20), refund(1000, T0 + 10)]) await postEvent(app.url, event);
  await settleStripeEvents(app);

  const report = await replay();
  expect(report.differences).toEqual([]);
  expect(report.compared.ledgerEntries).toBeGreaterThanOrEqual(2); // the gift's payment and its refund
});

it('when partial refunds of a payment are delivered in any order, then replay finds no difference', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.integer({ min: 1, max: 3999 }), { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.func(fc.integer()),
      async (partials, thenInFull, shuffle) => {
        const p = purchase({ amount: 4000 });
        const totals = [...partials.sort((a, b) => a - b), ...(thenInFull ? [4000] : [])];
        const refunds = totals.map((total, i) =>
          stripeEvent(
            'charge.refunded',
            charge(p, { amountRefunded: total, kind: 'one_time' }),
            T0 + 100 + i,
          ),
        );
        const delivered = refunds
          .map((event, i) => ({ event, order: shuffle(i) }))
          .sort((a, b) => a.order - b.order)
          .map(({ event }) => event);
        await postEvent(
          app.url,
          stripeEvent('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), T0),
        );
        for (const event of delivered) await postEvent(app.url, event);
        await settleStripeEvents(app);
        expect((await replay()).differences).toEqual([]);
      },
    ),
    {
      // Six orders, another six each run (the seed is printed): see docs/testing.md ("What the
      // everyday run leaves").
      seed: seedFrom('REPLAY_ORDER_SEED'),
      numRuns: Number(process.env.REPLAY_ORDER_RUNS ?? deep(6)),
    },
  );
}, 180_000);

it('when a refund recorded live has drifted from Stripe, then replay names its charge', async () => {
  const refund = await ledgerModel(app.deps.db).findOne({ kind: 'refund' }).lean();
  await ledgerModel(app.deps.db).updateOne({ _id: refund!._id }, { $set: { amount: refund!.amount - 1 } });
  const { differences } = await replay();
  expect(differences).toHaveLength(1);
  expect(differences[0]).toMatch(
    new RegExp(`^refunds of charge ${refund!.chargeId}: amount is -\\d+ now, -\\d+ after replay$`),
  );
});
