import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { checkoutSession, postEvent, purchase, stripeEvent } from '../support/stripe-events.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// Finance reports group money by the day and month it came in on the newsroom's clocks: the keys
// are cut in TIME_ZONE when an entry is written, never in UTC.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ TIME_ZONE: 'Pacific/Auckland' }) });
});
afterAll(() => app.close());

describe('ledger day and month keys', () => {
  it('when money arrives just after local midnight on the 1st (still the 30th in UTC), then it is booked on the local day and month', async () => {
    const p = purchase({ amount: 2500 });
    // 2026-12-01 00:00:30 in Auckland (UTC+13) is 2026-11-30 11:00:30 UTC.
    const created = Date.parse('2026-11-30T11:00:30Z') / 1000;
    const event = stripeEvent(
      'checkout.session.completed',
      checkoutSession(p, { kind: 'one_time' }),
      created,
    );
    expect((await postEvent(app.url, event)).status).toBe(200);
    const entry = await ledgerModel(app.deps.db).findOne({ paymentIntentId: p.paymentIntent }).lean();
    expect(entry).toMatchObject({
      kind: 'one_time_payment',
      amount: 2500,
      occurredAt: new Date('2026-11-30T11:00:30Z'),
      day: '2026-12-01',
      month: '2026-12',
    });
  });

  it('when money arrives just before local midnight, then it stays on that local day', async () => {
    const p = purchase({ amount: 700 });
    const created = Date.parse('2026-11-30T10:59:30Z') / 1000; // 23:59:30 on 30 November in Auckland
    const event = stripeEvent(
      'checkout.session.completed',
      checkoutSession(p, { kind: 'one_time' }),
      created,
    );
    expect((await postEvent(app.url, event)).status).toBe(200);
    const entry = await ledgerModel(app.deps.db).findOne({ paymentIntentId: p.paymentIntent }).lean();
    expect(entry).toMatchObject({ day: '2026-11-30', month: '2026-11' });
  });
});
