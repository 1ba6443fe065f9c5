import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

// The ledger is what finance signs: an entry that lacks what a report sums, or holds a fraction of
// a cent, is refused when it is written, whichever code path writes it (ADR 0005).

let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));

const complete = () => ({
  _id: 'in_test_1',
  kind: 'subscription_payment' as const,
  amount: 750,
  currency: 'usd',
  occurredAt: new Date('2026-11-20T10:00:00Z'),
  day: '2026-11-20',
  month: '2026-11',
  recordedAt: new Date('2026-11-20T10:00:01Z'),
  settlement: {
    balanceTransactionIds: ['txn_1'],
    sources: ['ch_1'],
    currency: 'usd',
    amount: 750,
    fee: 52,
    net: 698,
    exchangeRate: null,
    settledAt: new Date('2026-11-22T00:00:00Z'),
  },
});

/** The paths a validation of `doc` refuses, or [] when it would be stored. */
const refused = (doc: Record<string, unknown>) =>
  Object.keys(new (ledgerModel(db))(doc).validateSync()?.errors ?? {}).sort();

const without = (path: string) => {
  const doc = complete() as Record<string, unknown> & { settlement: Record<string, unknown> };
  if (path.startsWith('settlement.')) delete doc.settlement[path.slice('settlement.'.length)];
  else delete doc[path];
  return doc;
};

it('when an entry has everything a report sums, then it is stored as written', async () => {
  expect(refused(complete())).toEqual([]);
  await ledgerModel(db).create(complete());
  const stored = await ledgerModel(db).findById('in_test_1').lean();
  expect(stored).toMatchObject({ ...complete(), settlement: { ...complete().settlement } });
  expect(stored?.settlement).not.toHaveProperty('_id'); // a settlement is part of its entry
});

it('when an entry lacks any of its kind, amount, currency, times or day keys, then it is refused', () => {
  for (const path of ['kind', 'amount', 'currency', 'occurredAt', 'day', 'month', 'recordedAt'])
    expect(refused(without(path)), path).toEqual([path]);
});

it('when a settlement lacks any of its figures, then the entry is refused', () => {
  for (const figure of ['currency', 'amount', 'fee', 'net', 'settledAt'])
    expect(refused(without(`settlement.${figure}`)), figure).toEqual([`settlement.${figure}`]);
  for (const list of ['balanceTransactionIds', 'sources']) {
    const doc = without(`settlement.${list}`);
    const { settlement } = new (ledgerModel(db))(doc).toObject() as unknown as {
      settlement: Record<string, unknown>;
    };
    expect(settlement[list], list).toEqual([]);
    // A missing list is read as empty; one written as null is lacking.
    const nulled = complete();
    (nulled.settlement as Record<string, unknown>)[list] = null;
    expect(refused(nulled), list).toEqual([`settlement.${list}`]);
  }
});

it('when an amount, fee or net holds a fraction of a cent, or the kind is unknown, then the entry is refused', () => {
  for (const path of ['amount', 'settlement.amount', 'settlement.fee', 'settlement.net']) {
    const doc = complete() as Record<string, unknown> & { settlement: Record<string, unknown> };
    if (path === 'amount') doc.amount = 7.5;
    else doc.settlement[path.slice('settlement.'.length)] = 0.5;
    expect(refused(doc), path).toEqual([path]);
  }
  expect(refused({ ...complete(), kind: 'donation' })).toEqual(['kind']);
});

it('when the ledger is read by payment, member, day or month on MongoDB, then an index serves it', () => {
  const indexed = ledgerModel(db)
    .schema.indexes()
    .map(([fields]) => Object.keys(fields).join(','));
  expect(indexed).toEqual(
    expect.arrayContaining(['day', 'month', 'memberId', 'chargeId', 'paymentIntentId', 'occurredAt']),
  );
});
