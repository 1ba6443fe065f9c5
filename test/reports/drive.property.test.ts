import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { giftModel } from '../../src/gifts/gift.model.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { deep } from '../support/depth.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { staffToken } from '../support/staff.js';
import {
  charge,
  checkoutSession,
  dispute,
  invoice,
  type Purchase,
  postEvent,
  purchase,
  stripeEvent,
  subscription,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, TEST_ENV, type TestApp, testConfig } from '../support/test-app.js';

// Random drives: sequences of joins, one-time gifts of money, gift purchases, refunds, disputes and
// cancellations go through the real webhook (with a scripted Stripe account behind settlement),
// and every report total must equal a sum computed here from the sequence alone, to the cent.

const TZ = 'Europe/Kyiv';
const START = Date.parse('2026-10-30T12:00:00Z') / 1000; // two month ends ahead, in Kyiv time
const EUR_TO_USD = 1.0875; // euros settle in dollars; dollars and pounds settle as they are

let fake: FakeStripe;
let app: TestApp;
let staff: { authorization: string };

beforeAll(async () => {
  fake = await startFakeStripe();
  app = await startTestApp({
    config: testConfig({ TIME_ZONE: TZ }),
    deps: {
      clock: manualClock(new Date('2026-10-29T12:00:00Z')),
      stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection),
    },
  });
  staff = await staffToken(app.url, app.deps.db, 'finance');
});
afterAll(async () => {
  await app.close();
  await fake.close();
});

const currency = fc.constantFrom('usd', 'eur', 'gbp');
const operation = fc.oneof(
  fc.record({
    type: fc.constant('join' as const),
    currency,
    interval: fc.constantFrom('month' as const, 'year' as const),
    amount: fc.integer({ min: 100, max: 50_000 }),
  }),
  fc.record({
    type: fc.constant('oneTime' as const),
    currency,
    amount: fc.integer({ min: 100, max: 100_000 }),
  }),
  fc.record({ type: fc.constant('gift' as const) }),
  fc.record({ type: fc.constant('refund' as const), target: fc.nat(), full: fc.boolean() }),
  fc.record({ type: fc.constant('dispute' as const), target: fc.nat(), won: fc.boolean() }),
  fc.record({ type: fc.constant('cancel' as const), target: fc.nat() }),
);
const step = fc.record({ op: operation, gapSeconds: fc.integer({ min: 600, max: 4 * 86_400 }) });

interface Payment {
  p: Purchase;
  refunded: number;
  disputed: boolean;
  giftId?: string;
}

const monthIn = (seconds: number) =>
  new Date(seconds * 1000).toLocaleString('sv-SE', { timeZone: TZ }).slice(0, 7); // "2026-11"
const settled = (amount: number, cur: string) =>
  cur === 'eur' ? { currency: 'usd', amount: Math.round(amount * EUR_TO_USD) } : { currency: cur, amount };

it(
  'when any sequence of payments, refunds, disputes, cancellations and gifts happens, then revenue, fees, summary, growth and gift totals match an independent computation',
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        for (const c of await app.deps.db.db!.listCollections().toArray())
          if (!c.name.startsWith('staff_')) await app.deps.db.collection(c.name).deleteMany({});
        fake.reset();
        const get = async (path: string) => {
          const res = await fetch(`${app.url}${path}`, { headers: { authorization: staff.authorization } });
          expect(res.status).toBe(200);
          return res.json();
        };
        const send = async (type: string, object: Record<string, unknown>, at: number) => {
          const res = await postEvent(app.url, stripeEvent(type, object, at));
          expect(res.status).toBe(200);
        };

        // The independent computation, built as the sequence runs.
        const revenue = new Map<
          string,
          { gross: number; refunds: number; disputes: number; net: number; payments: number }
        >();
        const totals = new Map<string, { amount: number; fees: number; net: number }>();
        const book = (at: number, cur: string, kind: 'gross' | 'refunds' | 'disputes', amount: number) => {
          const key = `${monthIn(at)}|${cur}`;
          const row = revenue.get(key) ?? { gross: 0, refunds: 0, disputes: 0, net: 0, payments: 0 };
          row[kind] += amount;
          row.net += amount;
          if (kind === 'gross') row.payments++;
          revenue.set(key, row);
        };
        const settle = (cur: string, amount: number, fee: number) => {
          const money = settled(Math.abs(amount), cur);
          const signed = amount < 0 ? -money.amount : money.amount;
          const total = totals.get(money.currency) ?? { amount: 0, fees: 0, net: 0 };
          total.amount += signed;
          total.fees += fee;
          total.net += signed - fee;
          totals.set(money.currency, total);
        };
        const cardFee = (amount: number, cur: string) => Math.round(settled(amount, cur).amount * 0.029) + 30;
        const rateFor = (cur: string) => (cur === 'eur' ? { currency: 'usd', rate: EUR_TO_USD } : undefined);

        const payments: Payment[] = [];
        const members: { p: Purchase; active: boolean }[] = [];
        let joins = 0;
        let cancels = 0;
        let giftsPaid = 0;
        let giftsRefunded = 0;
        let at = START;
        /** Stripe charges the supporter (before the webhook arrives) and the model books it. */
        const stripeCharges = (p: Purchase, at: number, of: { invoiceId?: string; giftId?: string } = {}) => {
          fake.charge({
            id: `ch_${p.paymentIntent}`,
            paymentIntent: p.paymentIntent,
            amount: p.amount,
            currency: p.currency,
            created: at,
            invoice: of.invoiceId,
            settle: rateFor(p.currency),
          });
          payments.push({ p, refunded: 0, disputed: false, giftId: of.giftId });
          book(at, p.currency, 'gross', p.amount);
          settle(p.currency, p.amount, cardFee(p.amount, p.currency));
        };

        for (const { op, gapSeconds } of steps) {
          at += gapSeconds;
          if (op.type === 'join') {
            const p = purchase({
              currency: op.currency,
              amount: op.amount,
              interval: op.interval,
              plan: op.interval === 'year' ? 'patron' : 'supporter',
            });
            const paid = { ...invoice(p), status_transitions: { paid_at: at } };
            stripeCharges(p, at, { invoiceId: paid.id });
            await send('checkout.session.completed', checkoutSession(p), at);
            await send('customer.subscription.created', subscription(p, 'active'), at);
            await send('invoice.paid', paid, at);
            members.push({ p, active: true });
            joins++;
          } else if (op.type === 'oneTime') {
            const p = purchase({ currency: op.currency, amount: op.amount });
            stripeCharges(p, at);
            await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), at);
          } else if (op.type === 'gift') {
            const res = await fetch(`${app.url}/gifts/checkout`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                purchaserName: 'Olena',
                purchaserEmail: `olena-${at}@example.com`,
                recipientName: 'Taras',
                recipientEmail: `taras-${at}@example.com`,
                durationMonths: 12,
                currency: 'eur',
                deliverOn: '2027-01-15',
              }),
            });
            expect(res.status).toBe(201);
            const { giftId } = (await res.json()) as { giftId: string };
            const gift = (await giftModel(app.deps.db).findById(giftId).lean())!;
            const p = purchase({ currency: gift.currency, amount: gift.amount });
            stripeCharges(p, at, { giftId });
            await send(
              'checkout.session.completed',
              {
                id: p.session,
                object: 'checkout.session',
                mode: 'payment',
                payment_status: 'paid',
                amount_total: p.amount,
                currency: p.currency,
                payment_intent: p.paymentIntent,
                customer_details: { email: 'olena@example.com' },
                metadata: { app: 'membership-drive', kind: 'gift', giftId },
              },
              at,
            );
            giftsPaid++;
          } else if (op.type === 'refund') {
            const open = payments.filter((x) => !x.disputed && x.refunded < x.p.amount);
            const target = open[op.target % Math.max(open.length, 1)];
            if (!target) continue;
            const remaining = target.p.amount - target.refunded;
            const amount = op.full ? remaining : Math.max(1, Math.floor(remaining / 2));
            fake.refund({
              charge: `ch_${target.p.paymentIntent}`,
              amount,
              created: at,
              settle: rateFor(target.p.currency),
            });
            target.refunded += amount;
            await send('charge.refunded', charge(target.p, { amountRefunded: target.refunded }), at);
            if (target.giftId && target.refunded === target.p.amount) giftsRefunded++;
            book(at, target.p.currency, 'refunds', -amount);
            settle(target.p.currency, -amount, 0);
          } else if (op.type === 'dispute') {
            const open = payments.filter((x) => !x.disputed && x.refunded === 0);
            const target = open[op.target % Math.max(open.length, 1)];
            if (!target) continue;
            target.disputed = true;
            const moved = { at, reinstatedAt: at + 60 }; // when Stripe withdrew and reinstated it
            const opened = dispute(target.p, 'needs_response', undefined, moved);
            fake.dispute({
              id: opened.id,
              charge: `ch_${target.p.paymentIntent}`,
              created: at,
              won: op.won ? at + 60 : undefined,
              settle: rateFor(target.p.currency),
            });
            await send('charge.dispute.created', opened, at);
            book(at, target.p.currency, 'disputes', -target.p.amount);
            settle(target.p.currency, -target.p.amount, 1500);
            if (op.won) {
              await send('charge.dispute.closed', dispute(target.p, 'won', undefined, moved), at + 60);
              book(at + 60, target.p.currency, 'disputes', target.p.amount);
              settle(target.p.currency, target.p.amount, -1500);
            }
          } else {
            const active = members.filter((m) => m.active);
            const target = active[op.target % Math.max(active.length, 1)];
            if (!target) continue;
            target.active = false;
            cancels++;
            await send('customer.subscription.deleted', subscription(target.p, 'canceled'), at);
          }
        }

        const report = await get('/reports/revenue?by=month&from=2026-10&to=2026-12');
        expect(
          Object.fromEntries(
            report.rows.map((r: Record<string, number | string>) => [
              `${r.period}|${r.currency}`,
              { gross: r.gross, refunds: r.refunds, disputes: r.disputes, net: r.net, payments: r.payments },
            ]),
          ),
        ).toEqual(Object.fromEntries(revenue));
        expect(report.rows.every((r: { unsettled: number }) => r.unsettled === 0)).toBe(true);
        expect(
          Object.fromEntries(
            report.settlementTotals.map((t: Record<string, number | string>) => [
              t.currency,
              { amount: t.amount, fees: t.fees, net: t.net },
            ]),
          ),
        ).toEqual(Object.fromEntries(totals));

        const summary = await get('/reports/summary?from=2026-10-01&to=2026-12-31');
        const mrrTwelfths: Record<string, number> = {};
        const byPlan: Record<string, number> = {};
        for (const m of members.filter((x) => x.active)) {
          mrrTwelfths[m.p.currency] =
            (mrrTwelfths[m.p.currency] ?? 0) + m.p.amount * (m.p.interval === 'year' ? 1 : 12);
          const key = `${m.p.plan}|${m.p.interval}|${m.p.currency}`;
          byPlan[key] = (byPlan[key] ?? 0) + 1;
        }
        expect(summary).toMatchObject({ new: joins, churned: cancels, netGrowth: joins - cancels });
        expect(summary.mrr).toEqual(
          Object.fromEntries(Object.entries(mrrTwelfths).map(([c, v]) => [c, Math.round(v / 12)])),
        );
        expect(
          Object.fromEntries(
            summary.activeByPlan.map((r: Record<string, string | number>) => [
              `${r.plan}|${r.interval}|${r.currency}`,
              r.members,
            ]),
          ),
        ).toEqual(byPlan);

        const growth = await get('/reports/growth?from=2026-10-29&to=2026-12-31');
        const lastDay = growth.days.at(-1);
        expect({
          joined: growth.days.reduce((n: number, d: { joined: number }) => n + d.joined, 0),
          ended: growth.days.reduce((n: number, d: { ended: number }) => n + d.ended, 0),
          active: lastDay.active,
          // A currency whose members all left stays in the series at 0; the summary leaves it out.
          mrr: Object.fromEntries(Object.entries(lastDay.mrr).filter(([, v]) => v !== 0)),
        }).toEqual({ joined: joins, ended: cancels, active: joins - cancels, mrr: summary.mrr });

        const gifts = await get('/reports/gifts');
        expect(gifts).toMatchObject({ purchased: giftsPaid, refunded: giftsRefunded });

        const reconciliation = await get('/reports/reconciliation?from=2026-10-30&to=2026-12-31');
        expect(reconciliation).toMatchObject({
          clean: true,
          missingOurs: [],
          missingStripe: [],
          amountDifferences: [],
        });
      }),
      { numRuns: deep(10) },
    );
  },
  deep(10) * 9_000,
); // up to 9 s per generated history, each through the real app
