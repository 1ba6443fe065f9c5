import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itemsAtAddress } from '../../src/email/address-records.js';
import {
  backfillGiftAddresses,
  backfillGiftKeys,
  codeKey,
  giftByKey,
  giftGrantModel,
  giftModel,
  paymentKey,
} from '../../src/gifts/gift.model.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';
import { giftRecord } from './gift-fixtures.js';

// What a gift record must hold and holds (src/gifts/README.md), and the migrations that key and
// list the gifts stored before their keys and address lists were kept.

let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));

let seq = 0;
const valid = {
  gift: () => {
    const n = ++seq;
    return {
      ...giftRecord('model', n, new Date('2026-12-24T07:00:00Z')),
      status: 'paid' as const,
    };
  },
  grant: () => ({
    _id: `${new Types.ObjectId()}#0`,
    giftId: String(new Types.ObjectId()),
    kind: 'grant' as const,
    at: new Date('2026-12-24T10:00:00Z'),
    months: 3,
    base: new Date('2026-12-01T00:00:00Z'),
  }),
  key: () => ({ _id: `payment:pi_model_${++seq}`, giftId: new Types.ObjectId() }),
};
const models = () => ({ gift: giftModel(db), grant: giftGrantModel(db), key: db.model('GiftKey') });

/** Removes a field, nested ones named with a dot. */
function without(doc: Record<string, unknown>, field: string): Record<string, unknown> {
  const [head, rest] = field.split('.') as [string, string | undefined];
  if (!rest) {
    const { [head]: _, ...others } = doc;
    return others;
  }
  return { ...doc, [head]: without(doc[head] as Record<string, unknown>, rest) };
}

describe('what a gift record must hold', () => {
  const required = {
    gift: [
      'status',
      'purchaser',
      'purchaser.name',
      'purchaser.email',
      'recipient',
      'recipient.name',
      'recipient.email',
      'showPurchaserName',
      'durationMonths',
      'amount',
      'currency',
      'locale',
      'deliverAt',
    ],
    grant: ['giftId', 'kind', 'at', 'months', 'base'],
    key: ['giftId'],
  } as const;
  const cases = Object.entries(required).flatMap(([kind, fields]) =>
    fields.map((field) => [kind as keyof typeof required, field] as const),
  );

  it.each(cases)(
    'when a %s record is saved without its %s, then it is refused and nothing is stored',
    async (kind, field) => {
      const doc = without(valid[kind](), field);
      const model = models()[kind] as unknown as {
        create(doc: object): Promise<unknown>;
        findById(id: unknown): { lean(): Promise<unknown> };
      };
      await expect(model.create(doc)).rejects.toMatchObject({ name: 'ValidationError' });
      expect(await model.findById(doc._id).lean()).toBeNull();
    },
  );

  it('when a gift or a grant names a status or kind that does not exist, then it is refused', async () => {
    await expect(giftModel(db).create({ ...valid.gift(), status: 'lost' } as never)).rejects.toMatchObject({
      name: 'ValidationError',
    });
    await expect(
      giftGrantModel(db).create({ ...valid.grant(), kind: 'lend' } as never),
    ).rejects.toMatchObject({
      name: 'ValidationError',
    });
  });
});

describe('what is stored', () => {
  it('when a gift is stored without a message, then it holds an empty message and when it was stored', async () => {
    const { message: _, ...gift } = valid.gift();
    await giftModel(db).create(gift);
    expect(await db.collection('gifts').findOne({ _id: gift._id })).toEqual({
      ...gift,
      message: '',
      createdAt: expect.any(Date),
      updatedAt: expect.any(Date),
      __v: 0,
    });
  });

  it('when a grant and a key are stored, then each holds exactly its fields', async () => {
    const grant = valid.grant();
    await giftGrantModel(db).create(grant);
    expect(await db.collection('gift_grants').findOne({ _id: grant._id as never })).toEqual(grant);
    const key = valid.key();
    await db.model('GiftKey').create(key);
    expect(await db.collection('gift_keys').findOne({ _id: key._id as never })).toEqual(key);
  });
});

describe('migrations for gifts stored before their keys and lists', () => {
  it('when the gifts are keyed, then each code and payment finds its gift, a gift without them gets no key, and every gift is counted', async () => {
    await giftModel(db).deleteMany({});
    const coded = { ...valid.gift(), codeHash: 'c'.repeat(64), paymentIntentId: 'pi_backfill_1' };
    const unpaid = { ...valid.gift(), status: 'pending_payment' };
    await giftModel(db).insertMany([coded, unpaid]);
    const keysBefore = await db.model('GiftKey').countDocuments();
    expect(await backfillGiftKeys(db)).toBe(2);
    expect((await giftByKey(db, codeKey(coded.codeHash)))?._id).toEqual(coded._id);
    expect((await giftByKey(db, paymentKey(coded.paymentIntentId)))?._id).toEqual(coded._id);
    expect(await db.model('GiftKey').countDocuments()).toBe(keysBefore + 2);
  });

  it('when the gifts are listed under their addresses, then a data export finds each gift under its purchaser and its recipient, and every gift is counted', async () => {
    await giftModel(db).deleteMany({});
    const gifts = [valid.gift(), valid.gift()];
    await giftModel(db).insertMany(gifts);
    expect(await backfillGiftAddresses(db)).toBe(2);
    for (const gift of gifts)
      for (const email of [gift.purchaser.email, gift.recipient.email])
        expect(await itemsAtAddress(db, email)).toEqual([{ kind: 'gift', ref: String(gift._id) }]);
  });
});
