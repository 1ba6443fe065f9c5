import { Writable } from 'node:stream';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { ledgerCapability } from '../../src/ledger/ledger.capability.js';
import { type LedgerEntry, ledgerModel, settlementDueModel } from '../../src/ledger/ledger.model.js';
import { findPayment, markSettlementDue, recordLedgerEntry } from '../../src/ledger/ledger.service.js';
import {
  backfillSettlementDue,
  type SettlementDeps,
  settleLedgerEntry,
  settleUnsettledEntries,
  subscribeSettlement,
} from '../../src/ledger/settlement.service.js';
import { DomainEvents } from '../../src/shared/domain-events.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { T0 } from '../support/stripe-events.js';
import { createTestDatabase, manualClock, releaseTestDatabase, TEST_ENV } from '../support/test-app.js';

// What settlement writes is what the fee, payout and reconciliation reports sum: each entry's own
// balance transaction(s), to the cent, written once, and a sweep that retries only what is due.
// Stripe is a scripted account (fake-stripe.ts) holding exactly the money each test plants.

let fake: FakeStripe;
let db: Connection;
let deps: SettlementDeps;
let events: DomainEvents;
const logs: Record<string, unknown>[] = [];
const clock = manualClock(new Date((T0 + 3600) * 1000));
const DAY = 86_400_000;

beforeAll(async () => {
  fake = await startFakeStripe();
  db = await createTestDatabase();
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line));
      done();
    },
  });
  deps = {
    db,
    clock,
    stripe: createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, fake.connection)!,
    logger: createLogger({ level: 'warn', destination }),
  };
  events = new DomainEvents();
  subscribeSettlement(events, deps); // as the app does: each entry is settled as it is recorded
});
afterAll(async () => {
  await releaseTestDatabase(db);
  await fake.close();
});
beforeEach(async () => {
  fake.reset();
  logs.length = 0;
  clock.set(new Date((T0 + 3600) * 1000));
  await Promise.all(
    ['ledger', 'payment_links', 'settlement_due'].map((c) => db.collection(c).deleteMany({})),
  );
});

const record = (entry: Parameters<typeof recordLedgerEntry>[1]) =>
  recordLedgerEntry({ db, clock, timeZone: 'UTC', events }, entry);
const stored = (id: string) => ledgerModel(db).findById(id).lean<LedgerEntry>();
const settlementOf = async (id: string) => (await stored(id))?.settlement;
const due = async () => (await settlementDueModel(db).find().lean()).map((d) => d._id).sort();
const at = (seconds: number) => new Date(seconds * 1000);
/** An invoice entry Stripe holds no payment for: it never settles. */
const unpaidInvoice = (id: string, occurredAt: Date) =>
  record({ _id: id, kind: 'subscription_payment', amount: 500, currency: 'eur', occurredAt, invoiceId: id });
/** The invoices the sweep asked Stripe about, in order. */
const asked = () =>
  fake.requests.filter((r) => r.path === '/v1/invoice_payments').map((r) => r.query.get('invoice'));

describe('what settlement records for each kind of entry', () => {
  it('when a charge is refunded twice in one second, then each refund entry settles with its own refund, to the cent', async () => {
    // The payment was recorded before Stripe booked its charge, so it is not settled yet.
    await record({
      _id: 'pi_paid',
      kind: 'one_time_payment',
      amount: 1000,
      currency: 'eur',
      occurredAt: at(T0),
      paymentIntentId: 'pi_paid',
    });
    const charge = fake.charge({
      id: 'ch_paid',
      paymentIntent: 'pi_paid',
      amount: 1000,
      currency: 'eur',
      created: T0,
    });
    const first = fake.refund({ charge: charge.chargeId, amount: 300, created: T0 + 60 });
    const second = fake.refund({ charge: charge.chargeId, amount: 200, created: T0 + 60 });
    const other = fake.charge({ amount: 5000, currency: 'eur', created: T0 });
    fake.refund({ charge: other.chargeId, amount: 50, created: T0 + 60 });

    for (const [to, amount] of [
      [300, 300],
      [500, 200],
    ] as const)
      await record({
        _id: `refund:ch_paid:${to}`,
        kind: 'refund',
        amount: -amount,
        currency: 'eur',
        occurredAt: at(T0 + 60),
        chargeId: 'ch_paid',
        paymentIntentId: 'pi_paid',
        reverses: 'pi_paid',
      });

    expect(await settlementOf('refund:ch_paid:300')).toMatchObject({
      balanceTransactionIds: [first.balanceTransaction.id],
      sources: [first.refundId],
      amount: -300,
      fee: 0,
      net: -300,
      currency: 'eur',
    });
    expect(await settlementOf('refund:ch_paid:500')).toMatchObject({
      balanceTransactionIds: [second.balanceTransaction.id],
      sources: [second.refundId],
      amount: -200,
      net: -200,
    });
    // The payment settles later; its charge names the payment, never a refund of it.
    expect(await settleUnsettledEntries(deps)).toEqual({ settled: 1, unsettled: 0 });
    expect(await settlementOf('pi_paid')).toMatchObject({ amount: 1000, fee: 59, net: 941 });
    expect((await findPayment(db, ['ch_paid']))?._id).toBe('pi_paid');
  });

  it('when a refund fails, then its refund_failure entry settles with the money Stripe put back', async () => {
    const charge = fake.charge({ amount: 2500, currency: 'eur', created: T0 });
    const refund = fake.refund({ charge: charge.chargeId, amount: 2500, created: T0 + 60 });
    const failed = fake.failRefund(refund.refundId, { created: T0 + 600 });
    await record({
      _id: `refund_failure:${refund.refundId}`,
      kind: 'refund_failure',
      amount: 2500,
      currency: 'eur',
      occurredAt: at(T0 + 600),
      chargeId: charge.chargeId,
    });
    expect(await stored(`refund_failure:${refund.refundId}`)).toMatchObject({
      chargeId: charge.chargeId,
      settlement: {
        balanceTransactionIds: [failed.balanceTransaction.id],
        sources: [refund.refundId],
        amount: 2500,
        fee: 0,
        net: 2500,
      },
    });
    expect(await due()).toEqual([]);
  });

  it('when a dispute withdraws a payment and is won, then each entry settles with its own side: money and the 15.00 fee', async () => {
    const charge = fake.charge({ amount: 2000, currency: 'eur', created: T0 });
    fake.dispute({ id: 'dp_won', charge: charge.chargeId, created: T0 + 60, won: T0 + 6000 });
    const common = { currency: 'eur', chargeId: charge.chargeId };
    await record({ ...common, _id: 'dp_won', kind: 'dispute', amount: -2000, occurredAt: at(T0 + 60) });
    await record({
      ...common,
      _id: 'dp_won:won',
      kind: 'dispute_reversal',
      amount: 2000,
      occurredAt: at(T0 + 6000),
    });
    expect(await settlementOf('dp_won')).toMatchObject({
      amount: -2000,
      fee: 1500,
      net: -3500,
      sources: ['dp_won'],
    });
    expect(await settlementOf('dp_won:won')).toMatchObject({ amount: 2000, fee: -1500, net: 3500 });
  });

  it("when Stripe lists a won dispute's reinstatement before its withdrawal, then each entry still settles with its own side", async () => {
    const charge = fake.charge({ amount: 2000, currency: 'eur', created: T0 });
    fake.dispute({ id: 'dp_listed_back', charge: charge.chargeId, created: T0 + 60, won: T0 + 6000 });
    // Stripe lists the withdrawal first; which is which is told by the sign, not the place.
    const dispute = fake.get('dp_listed_back')!;
    const [withdrawal, reinstatement] = dispute.balance_transactions as { id: string }[];
    fake.put({ ...dispute, balance_transactions: [reinstatement, withdrawal] });
    const common = { currency: 'eur', chargeId: charge.chargeId };
    await record({
      ...common,
      _id: 'dp_listed_back',
      kind: 'dispute',
      amount: -2000,
      occurredAt: at(T0 + 60),
    });
    await record({
      ...common,
      _id: 'dp_listed_back:won',
      kind: 'dispute_reversal',
      amount: 2000,
      occurredAt: at(T0 + 6000),
    });
    expect(await settlementOf('dp_listed_back')).toMatchObject({
      balanceTransactionIds: [withdrawal!.id],
      amount: -2000,
      fee: 1500,
    });
    expect(await settlementOf('dp_listed_back:won')).toMatchObject({
      balanceTransactionIds: [reinstatement!.id],
      amount: 2000,
      fee: -1500,
    });
  });

  it('when a payment names only its charge, or only its PaymentIntent, then it settles with that charge and its charge finds it', async () => {
    const byCharge = fake.charge({
      amount: 1200,
      currency: 'eur',
      created: T0,
      settle: { currency: 'usd', rate: 1.1 },
    });
    const byIntent = fake.charge({ amount: 3000, currency: 'eur', created: T0 });
    await record({
      _id: 'cs_by_charge',
      kind: 'one_time_payment',
      amount: 1200,
      currency: 'eur',
      occurredAt: at(T0),
      chargeId: byCharge.chargeId,
    });
    await record({
      _id: 'cs_gift',
      kind: 'gift_purchase',
      amount: 3000,
      currency: 'eur',
      occurredAt: at(T0),
      paymentIntentId: byIntent.paymentIntentId,
    });
    expect(await settlementOf('cs_by_charge')).toMatchObject({
      amount: 1320,
      fee: 68,
      net: 1252,
      currency: 'usd',
      exchangeRate: 1.1,
    });
    expect(await stored('cs_gift')).toMatchObject({
      chargeId: byIntent.chargeId,
      settlement: { amount: 3000, fee: 117, net: 2883, sources: [byIntent.chargeId] },
    });
    expect((await findPayment(db, [byIntent.chargeId]))?._id).toBe('cs_gift');
    expect(await due()).toEqual([]);
  });

  it('when an invoice payment names its charge rather than a PaymentIntent, then the invoice settles with that charge', async () => {
    const card = fake.charge({ amount: 1500, currency: 'eur', created: T0 });
    fake.put({
      id: 'inpay_card',
      object: 'invoice_payment',
      invoice: 'in_card',
      created: T0,
      status: 'paid',
      payment: { type: 'charge', charge: card.chargeId },
    });
    await unpaidInvoice('in_card', at(T0));
    expect(await stored('in_card')).toMatchObject({
      chargeId: card.chargeId,
      settlement: { amount: 1500, fee: 74, net: 1426, sources: [card.chargeId] },
    });
  });

  it('when an invoice is paid by two charges its event did not name, then once it settles either charge finds it', async () => {
    // Neither the invoice event nor an invoice_payment.paid linked them: settlement is what does.
    const first = fake.charge({ amount: 300, currency: 'eur', created: T0, invoice: 'in_split' });
    const rest = fake.charge({ amount: 700, currency: 'eur', created: T0 + 1, invoice: 'in_split' });
    await unpaidInvoice('in_split', at(T0 + 1));
    expect(await settlementOf('in_split')).toMatchObject({ amount: 1000, fee: 39 + 50 });
    expect((await findPayment(db, [first.chargeId]))?._id).toBe('in_split');
    expect((await findPayment(db, [rest.chargeId]))?._id).toBe('in_split');
  });

  it('when Stripe has not booked a charge yet, then the payment stays unsettled and due, without an error', async () => {
    fake.put({
      id: 'ch_pending',
      object: 'charge',
      created: T0,
      amount: 900,
      currency: 'eur',
      balance_transaction: null,
    });
    fake.put({
      id: 'pi_pending',
      object: 'payment_intent',
      created: T0,
      amount: 900,
      currency: 'eur',
      latest_charge: null,
    });
    await record({
      _id: 'cs_a',
      kind: 'one_time_payment',
      amount: 900,
      currency: 'eur',
      occurredAt: at(T0),
      chargeId: 'ch_pending',
    });
    await record({
      _id: 'cs_b',
      kind: 'one_time_payment',
      amount: 900,
      currency: 'eur',
      occurredAt: at(T0),
      paymentIntentId: 'pi_pending',
    });
    await expect(settleLedgerEntry(deps, 'cs_a')).resolves.toBe(false);
    await expect(settleLedgerEntry(deps, 'cs_b')).resolves.toBe(false);
    // A refund whose failure Stripe has not booked yet has no money back to settle with.
    fake.put({
      id: 're_open',
      object: 'refund',
      created: T0,
      amount: 900,
      currency: 'eur',
      failure_balance_transaction: null,
    });
    await record({
      _id: 'refund_failure:re_open',
      kind: 'refund_failure',
      amount: 900,
      currency: 'eur',
      occurredAt: at(T0),
      chargeId: 'ch_pending',
    });
    await expect(settleLedgerEntry(deps, 'refund_failure:re_open')).resolves.toBe(false);
    expect(await settlementOf('cs_a')).toBeUndefined();
    expect(await due()).toEqual(['cs_a', 'cs_b', 'refund_failure:re_open']);
    expect(logs).toEqual([]);
  });

  it("when Stripe has not booked a dispute's withdrawal or reinstatement yet, then its entries stay unsettled and due, without an error", async () => {
    // A funds_* event books an entry on its own word (dispute.events.ts), before Stripe lists the money.
    const charge = fake.charge({ amount: 800, currency: 'eur', created: T0 });
    fake.dispute({
      id: 'dp_unbooked',
      charge: charge.chargeId,
      created: T0 + 60,
      inquiry: true,
      status: 'needs_response',
    });
    fake.dispute({ id: 'dp_unreinstated', charge: charge.chargeId, created: T0 + 60, status: 'won' });
    const common = { currency: 'eur', chargeId: charge.chargeId };
    await record({ ...common, _id: 'dp_unbooked', kind: 'dispute', amount: -800, occurredAt: at(T0 + 60) });
    await record({
      ...common,
      _id: 'dp_unreinstated:won',
      kind: 'dispute_reversal',
      amount: 800,
      occurredAt: at(T0 + 6000),
    });
    await expect(settleLedgerEntry(deps, 'dp_unbooked')).resolves.toBe(false);
    await expect(settleLedgerEntry(deps, 'dp_unreinstated:won')).resolves.toBe(false);
    expect(await due()).toEqual(['dp_unbooked', 'dp_unreinstated:won']);
    expect(logs).toEqual([]);
  });

  it('when an entry is settled already, unknown, or a $0 invoice, then Stripe is not asked and nothing changes', async () => {
    const charge = fake.charge({ amount: 700, currency: 'eur', created: T0 });
    await record({
      _id: 'cs_done',
      kind: 'one_time_payment',
      amount: 700,
      currency: 'eur',
      occurredAt: at(T0),
      chargeId: charge.chargeId,
    });
    await record({
      _id: 'in_free',
      kind: 'free_invoice',
      amount: 0,
      currency: 'eur',
      occurredAt: at(T0),
      invoiceId: 'in_free',
    });
    const before = await settlementOf('cs_done');
    fake.reset();
    clock.advance(DAY);
    await expect(settleLedgerEntry(deps, 'cs_done')).resolves.toBe(true);
    await expect(settleLedgerEntry(deps, 'cs_unknown')).resolves.toBe(false);
    await expect(settleLedgerEntry(deps, 'in_free')).resolves.toBe(false);
    expect(fake.requests).toEqual([]);
    expect(await settlementOf('cs_done')).toEqual(before);
    expect(await settlementOf('in_free')).toBeUndefined();
  });

  it('when Stripe fails while a payment is settled, then the payment is kept due and the log names the failure, not its raw response', async () => {
    const charge = fake.charge({ amount: 700, currency: 'eur', created: T0 });
    fake.fail(`/v1/charges/${charge.chargeId}`);
    await record({
      _id: 'cs_outage',
      kind: 'one_time_payment',
      amount: 700,
      currency: 'eur',
      occurredAt: at(T0),
      chargeId: charge.chargeId,
    });
    expect(await stored('cs_outage')).toMatchObject({ amount: 700 });
    expect(await due()).toEqual(['cs_outage']);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: 'warn',
      msg: 'settling a ledger entry failed; the sweep will retry',
      entryId: 'cs_outage',
      err: {
        message: 'An unknown error occurred (fake).',
        requestId: expect.stringMatching(/^req_/),
      },
    });
    for (const raw of ['raw', 'headers', 'statusCode']) expect(logs[0]!.err).not.toHaveProperty(raw);
  });
});

describe('the settlement sweep', () => {
  it('when an entry is older than 35 days, then it leaves the list unasked; one exactly 35 days old is still tried', async () => {
    const now = clock.now().getTime();
    await unpaidInvoice('in_edge', new Date(now - 35 * DAY));
    await unpaidInvoice('in_stale', new Date(now - 35 * DAY - 1));
    expect(await due()).toEqual(['in_edge', 'in_stale']);
    fake.reset();
    expect(await settleUnsettledEntries(deps)).toEqual({ settled: 0, unsettled: 1 });
    expect(asked()).toEqual(['in_edge']);
    expect(await due()).toEqual(['in_edge']);
  });

  it('when it takes one at a time, then never-tried entries go first, newest first, then the least recently tried', async () => {
    await unpaidInvoice('in_x', at(T0 - 3));
    await unpaidInvoice('in_y', at(T0 - 2));
    await unpaidInvoice('in_z', at(T0 - 1));
    fake.reset();
    const sweep = async () => {
      clock.advance(60_000);
      return settleUnsettledEntries(deps, { limit: 1 });
    };
    for (let i = 0; i < 3; i++) expect(await sweep()).toEqual({ settled: 0, unsettled: 1 });
    expect(asked()).toEqual(['in_z', 'in_y', 'in_x']);
    await unpaidInvoice('in_w', at(T0 - 10));
    fake.requests.length = 0; // recording it asked once already
    await sweep();
    await sweep();
    expect(asked()).toEqual(['in_w', 'in_z']);
  });

  it('when markers are left without a payment to settle, then the sweep drops them and keeps only what Stripe may still book', async () => {
    await unpaidInvoice('in_unbooked', at(T0 - 50)); // its marker is the first in the list
    await record({
      _id: 'cs_booked',
      kind: 'one_time_payment',
      amount: 1000,
      currency: 'eur',
      occurredAt: at(T0),
      paymentIntentId: 'pi_booked',
    });
    fake.charge({ paymentIntent: 'pi_booked', amount: 1000, currency: 'eur', created: T0 });
    await markSettlementDue(db, 'in_ghost', at(T0 - 100)); // a crash between marker and entry
    await record({
      _id: 'in_free',
      kind: 'free_invoice',
      amount: 0,
      currency: 'eur',
      occurredAt: at(T0 - 100),
      invoiceId: 'in_free',
    });
    await markSettlementDue(db, 'in_free', at(T0 - 100)); // listed by an older version
    expect(await settleUnsettledEntries(deps)).toEqual({ settled: 1, unsettled: 1 });
    expect(await settlementOf('cs_booked')).toMatchObject({ amount: 1000, fee: 59 });
    expect(await settlementDueModel(db).find().lean()).toEqual([
      { _id: 'in_unbooked', occurredAt: at(T0 - 50), triedAt: clock.now() },
    ]);
  });

  it('when Stripe fails on one entry in a sweep, then it stays due for the next, the log names it and the failure, and the others settle', async () => {
    // Both are recorded before Stripe booked their charges, so both are left to the sweep.
    for (const [id, ids] of [
      ['cs_outage', { chargeId: 'ch_outage' }],
      ['cs_late', { paymentIntentId: 'pi_late' }],
    ] as const)
      await record({
        _id: id,
        kind: 'one_time_payment',
        amount: 700,
        currency: 'eur',
        occurredAt: at(T0),
        ...ids,
      });
    fake.charge({ id: 'ch_outage', amount: 700, currency: 'eur', created: T0 });
    fake.charge({ paymentIntent: 'pi_late', amount: 700, currency: 'eur', created: T0 });
    const answer = fake.fail('/v1/charges/ch_outage');
    expect(await settleUnsettledEntries(deps)).toEqual({ settled: 1, unsettled: 1 });
    expect(await settlementDueModel(db).find().lean()).toEqual([
      { _id: 'cs_outage', occurredAt: at(T0), triedAt: clock.now() },
    ]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: 'warn',
      msg: 'settling a ledger entry failed',
      entryId: 'cs_outage',
      err: { message: 'An unknown error occurred (fake).', requestId: expect.stringMatching(/^req_/) },
    });
    answer();
    clock.advance(600_000);
    expect(await settleUnsettledEntries(deps)).toEqual({ settled: 1, unsettled: 0 });
    expect(await settlementOf('cs_outage')).toMatchObject({ amount: 700, fee: 50 });
  });

  it('when the ledger has unsettled entries but no list (a database from before it), then the backfill lists exactly those Stripe moves', async () => {
    const charge = fake.charge({ amount: 700, currency: 'eur', created: T0 });
    await record({
      _id: 'cs_settled',
      kind: 'one_time_payment',
      amount: 700,
      currency: 'eur',
      occurredAt: at(T0),
      chargeId: charge.chargeId,
    });
    await unpaidInvoice('in_open', at(T0 - 5));
    await record({
      _id: 'refund:ch_x:100',
      kind: 'refund',
      amount: -100,
      currency: 'eur',
      occurredAt: at(T0 - 4),
      chargeId: 'ch_x',
    });
    await record({
      _id: 'in_oob',
      kind: 'out_of_band_payment',
      amount: 900,
      currency: 'eur',
      occurredAt: at(T0),
      invoiceId: 'in_oob',
    });
    await db.collection('settlement_due').deleteMany({});
    expect(await backfillSettlementDue(db)).toBe(2);
    expect(await settlementDueModel(db).find().sort({ _id: 1 }).lean()).toEqual([
      { _id: 'in_open', occurredAt: at(T0 - 5) },
      { _id: 'refund:ch_x:100', occurredAt: at(T0 - 4) },
    ]);
  });

  it('when payments are configured, then the ledger runs the sweep every 10 minutes; without Stripe it runs none', async () => {
    await unpaidInvoice('in_later', at(T0));
    fake.charge({ amount: 500, currency: 'eur', created: T0, invoice: 'in_later' });
    const context = { db, clock, logger: deps.logger, events } as unknown as Parameters<
      NonNullable<typeof ledgerCapability.tasks>
    >[0];
    expect(ledgerCapability.tasks?.({ ...context, stripe: null })).toEqual([]);
    const tasks = ledgerCapability.tasks?.({ ...context, stripe: deps.stripe }) ?? [];
    expect(tasks.map(({ name, everyMs }) => ({ name, everyMs }))).toEqual([
      { name: 'settlement', everyMs: 600_000 },
    ]);
    await tasks[0]!.run();
    expect(await settlementOf('in_later')).toMatchObject({ amount: 500, fee: 45, net: 455 });
  });
});
