import { type Connection, type Model, Types } from 'mongoose';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import {
  ledgerModel,
  paymentLinkModel,
  refundFailureModel,
  refundStepModel,
  registerLedgerModels,
  settlementDueModel,
} from '../../src/ledger/ledger.model.js';
import {
  findPayment,
  linkPayment,
  markSettlementDue,
  recordLedgerEntry,
} from '../../src/ledger/ledger.service.js';
import { ledgerEntriesOf } from '../../src/ledger/member-entries.js';
import { DomainEvents, type LedgerRecorded } from '../../src/shared/domain-events.js';
import { T0 } from '../support/stripe-events.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';

// Money is recorded once per Stripe object, and a refund or dispute finds the payment it takes
// back by the ids Stripe names; the collections hold exactly what is written, under the names
// finance's exports and the runbooks use.

let db: Connection;
const clock = manualClock(new Date((T0 + 60) * 1000));
const events = new DomainEvents();
const heard: LedgerRecorded[] = [];
events.on('ledger.recorded', (event) => {
  heard.push(event);
});

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));
beforeEach(async () => {
  heard.length = 0;
  await Promise.all(
    ['ledger', 'payment_links', 'settlement_due', 'refund_steps', 'refund_failures', 'member_entries'].map(
      (c) => db.collection(c).deleteMany({}),
    ),
  );
});

const record = (entry: Parameters<typeof recordLedgerEntry>[1]) =>
  recordLedgerEntry({ db, clock, timeZone: 'UTC', events }, entry);
const at = (seconds: number) => new Date(seconds * 1000);
const raw = (collection: string) => db.collection(collection).find().sort({ _id: 1 }).toArray();

const payment = {
  _id: 'in_paid',
  kind: 'subscription_payment' as const,
  amount: 1250,
  currency: 'eur',
  occurredAt: at(T0),
  invoiceId: 'in_paid',
  paymentIntentId: 'pi_paid',
  chargeId: 'ch_paid',
  attribution: { page: 'news.example/2026/story', placement: 'widget', utmSource: 'newsletter' },
};

it('when the same payment is recorded twice, then it is stored once, listed due once, and the second says it was not new', async () => {
  expect(await record(payment)).toBe(true);
  expect(await record(payment)).toBe(false);
  expect(await raw('ledger')).toEqual([
    { ...payment, day: '2026-11-18', month: '2026-11', recordedAt: clock.now() },
  ]);
  expect(await raw('settlement_due')).toEqual([{ _id: 'in_paid', occurredAt: at(T0) }]);
  expect(await raw('payment_links')).toEqual([
    { _id: 'ch_paid', entryId: 'in_paid' },
    { _id: 'pi_paid', entryId: 'in_paid' },
  ]);
  expect(heard.map((e) => e.entryId)).toEqual(['in_paid', 'in_paid']); // listeners catch up on a retry
});

it("when an entry names a member, then the member's page lists it; an entry with no member is listed under nobody", async () => {
  const memberId = new Types.ObjectId();
  await record({ ...payment, memberId });
  await record({
    ...payment,
    _id: 'in_anonymous',
    invoiceId: 'in_anonymous',
    chargeId: 'ch_anon',
    paymentIntentId: 'pi_anon',
  });
  expect((await ledgerEntriesOf(db, memberId, 10)).map((e) => e._id)).toEqual(['in_paid']);
  expect(await raw('member_entries')).toEqual([{ _id: `${memberId}#0`, entryIds: ['in_paid'] }]);
});

it('when a refund or dispute names the payment by its charge or PaymentIntent, then the payment is found', async () => {
  await record(payment);
  await record({
    _id: 'pi_once',
    kind: 'one_time_payment',
    amount: 500,
    currency: 'eur',
    occurredAt: at(T0),
    paymentIntentId: 'pi_once',
  });
  expect((await findPayment(db, [null, 'ch_paid']))?._id).toBe('in_paid');
  expect((await findPayment(db, [undefined, 'pi_paid']))?._id).toBe('in_paid');
  expect((await findPayment(db, ['pi_once']))?._id).toBe('pi_once');
  expect(await findPayment(db, ['ch_unknown', null])).toBeNull();
});

it('when a $0 or out-of-band invoice, or a refund, is recorded, then it is never the payment a refund takes back, nor due for settlement', async () => {
  await record({
    _id: 'in_free',
    kind: 'free_invoice',
    amount: 0,
    currency: 'eur',
    occurredAt: at(T0),
    invoiceId: 'in_free',
  });
  await record({
    _id: 'in_oob',
    kind: 'out_of_band_payment',
    amount: 900,
    currency: 'eur',
    occurredAt: at(T0),
    invoiceId: 'in_oob',
    paymentIntentId: 'pi_oob',
  });
  await record({
    _id: 'refund:ch_paid:100',
    kind: 'refund',
    amount: -100,
    currency: 'eur',
    occurredAt: at(T0),
    chargeId: 'ch_paid',
    paymentIntentId: 'pi_refunded',
  });
  for (const id of ['in_free', 'in_oob', 'pi_oob', 'refund:ch_paid:100', 'ch_paid', 'pi_refunded'])
    expect(await findPayment(db, [id]), id).toBeNull();
  expect(await raw('settlement_due')).toEqual([{ _id: 'refund:ch_paid:100', occurredAt: at(T0) }]);
  expect(await raw('payment_links')).toEqual([]);
});

it('when a payment carries no Stripe payment ids, then it is recorded without links', async () => {
  expect(await record({ ...payment, paymentIntentId: undefined, chargeId: undefined })).toBe(true);
  expect(await raw('payment_links')).toEqual([]);
  expect((await findPayment(db, ['in_paid']))?._id).toBe('in_paid');
});

it('when an entry holds a fraction of a cent, then recording it fails loudly and the ledger holds nothing', async () => {
  await expect(record({ ...payment, amount: 12.5 })).rejects.toThrow(/amount/);
  expect(await raw('ledger')).toEqual([]);
  expect(heard).toEqual([]);
});

it('when a due marker or a payment link cannot be written for another reason than a duplicate, then writing it fails', async () => {
  await expect(markSettlementDue(db, 'in_timeless', undefined as unknown as Date)).rejects.toThrow(
    /occurredAt/,
  );
  await expect(linkPayment(db, undefined as unknown as string, ['pi_orphan'])).rejects.toThrow(/entryId/);
  expect(await raw('settlement_due')).toEqual([]);
  expect(await raw('payment_links')).toEqual([]);
});

it('when refund steps, refund failures, links and due markers are written, then each collection holds exactly what was written', async () => {
  const seen = { total: 500, of: 1000, at: at(T0 + 5) };
  await refundStepModel(db).create({
    _id: 'ch_1:0',
    chargeId: 'ch_1',
    from: 0,
    to: 500,
    of: 1000,
    occurredAt: at(T0),
    seen,
  });
  await refundFailureModel(db).create({
    _id: 'ch_1:failed:0',
    chargeId: 'ch_1',
    refundId: 're_1',
    amount: 500,
    failedAt: at(T0 + 9),
  });
  expect(await raw('refund_steps')).toEqual([
    { _id: 'ch_1:0', chargeId: 'ch_1', from: 0, to: 500, of: 1000, occurredAt: at(T0), seen },
  ]);
  expect(await raw('refund_failures')).toEqual([
    { _id: 'ch_1:failed:0', chargeId: 'ch_1', refundId: 're_1', amount: 500, failedAt: at(T0 + 9) },
  ]);
  await record(payment);
  expect((await raw('payment_links')).map((l) => Object.keys(l).sort())).toEqual([
    ['_id', 'entryId'],
    ['_id', 'entryId'],
  ]);
  expect(await raw('settlement_due')).toEqual([{ _id: 'in_paid', occurredAt: at(T0) }]);
  registerLedgerModels(db); // a second capability start on the same connection changes nothing
});

it('when a refund step, refund failure, link or due marker lacks a field, or a failure holds a fraction of a cent, then it is refused', () => {
  const refused = <T>(doc: object, model: Model<T>) =>
    Object.keys(new model(doc).validateSync()?.errors ?? {}).sort();
  const step = { _id: 'ch_1:0', chargeId: 'ch_1', from: 0, to: 500, of: 1000, occurredAt: at(T0) };
  for (const field of ['chargeId', 'from', 'to', 'of', 'occurredAt'])
    expect(refused({ ...step, [field]: undefined }, refundStepModel(db)), field).toEqual([field]);
  for (const field of ['total', 'of', 'at'])
    expect(
      refused({ ...step, seen: { total: 1, of: 2, at: at(T0), [field]: undefined } }, refundStepModel(db)),
      field,
    ).toEqual([`seen.${field}`]);
  const failure = { _id: 'ch_1:failed:0', chargeId: 'ch_1', refundId: 're_1', amount: 500, failedAt: at(T0) };
  for (const field of ['chargeId', 'refundId', 'amount', 'failedAt'])
    expect(refused({ ...failure, [field]: undefined }, refundFailureModel(db)), field).toEqual([field]);
  expect(refused({ ...failure, amount: 0.5 }, refundFailureModel(db))).toEqual(['amount']);
  expect(refused({ _id: 'pi_1' }, paymentLinkModel(db))).toEqual(['entryId']);
  expect(refused({ _id: 'in_1' }, settlementDueModel(db))).toEqual(['occurredAt']);
  expect(refused({ ...payment, day: 'x', month: 'y', recordedAt: at(T0) }, ledgerModel(db))).toEqual([]);
});
