import { Writable } from 'node:stream';
import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import {
  type Gift,
  giftDueModel,
  giftModel,
  giftOpenModel,
  listOpenGift,
  markGiftDue,
} from '../../src/gifts/gift.model.js';
import { deliverDueGifts, sweepGifts } from '../../src/gifts/gift.service.js';
import type { GiftDeps } from '../../src/gifts/gift-deps.js';
import { createLogger } from '../../src/infra/logger.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';
import { giftRecord, giftTestDeps } from './gift-fixtures.js';

// What the per-minute delivery and the hourly sweep make of their lists (`gift_due`, `gift_open`,
// src/gifts/gift.model.ts): which gifts are delivered or reminded, in what order, and what stays
// listed. Each test empties both lists first, since each run reads the whole list.

const HOUR = 3_600_000;
const DAY = 86_400_000;
let db: Connection;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));

const deps = (): GiftDeps => giftTestDeps(db, clock);
const at = (ms: number) => new Date(clock.now().getTime() + ms);

let seq = 0;
async function storedGift(fields: Partial<Gift>) {
  const gift = { ...giftRecord('lists', ++seq, at(-HOUR)), status: 'paid' as const, ...fields };
  await giftModel(db).create(gift);
  return gift;
}
const status = async (id: Types.ObjectId) => (await giftModel(db).findById(id).lean())?.status;
const dueIds = async () => (await giftDueModel(db).find().lean()).map((d) => String(d._id)).sort();
const nextAtOf = async (id: Types.ObjectId) => (await giftOpenModel(db).findById(id).lean())?.nextAt;
/** Recipients of the emails whose key starts so. */
const queuedTo = async (prefix: string) =>
  (await emailModels(db).EmailJob.find().lean())
    .filter((e) => e.idempotencyKey.startsWith(prefix))
    .map((e) => e.to.email)
    .sort();
/** The gifts the log says were delivered, in its order: what staff read when a day's gifts went out. */
async function deliveredInLogOrder(): Promise<string[]> {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  await deliverDueGifts(giftTestDeps(db, clock, { logger: createLogger({ level: 'info', destination }) }));
  return lines
    .map((l) => JSON.parse(l) as { msg: string; giftId: string })
    .filter((l) => l.msg === 'gift delivered')
    .map((l) => l.giftId);
}
async function emptyLists() {
  await giftDueModel(db).deleteMany({});
  await giftOpenModel(db).deleteMany({});
}

describe('the delivery list', () => {
  it('when several gifts fall due at once, then they are delivered in the order of their time, ties by gift, and one due later waits', async () => {
    await emptyLists();
    const later = await storedGift({ deliverAt: at(-2 * HOUR) });
    const earlier = await storedGift({ deliverAt: at(-3 * HOUR) });
    const tieB = await storedGift({
      _id: new Types.ObjectId('b00000000000000000000001'),
      deliverAt: at(-HOUR),
    });
    const tieA = await storedGift({
      _id: new Types.ObjectId('a00000000000000000000001'),
      deliverAt: at(-HOUR),
    });
    const tomorrow = await storedGift({ deliverAt: at(DAY) });
    for (const g of [later, earlier, tieB, tieA, tomorrow]) await markGiftDue(db, g._id, g.deliverAt);

    expect(await deliveredInLogOrder()).toEqual([earlier, later, tieA, tieB].map((g) => String(g._id)));
    expect(await queuedTo('gift-delivery:')).toEqual(
      [earlier, later, tieA, tieB].map((g) => g.recipient.email).sort(),
    );
    expect(await status(tomorrow._id)).toBe('paid');
    expect(await dueIds()).toEqual([String(tomorrow._id)]);
  });

  it('when a listed gift is moved later, still being paid for, refunded, or gone, then none is delivered, and only the finished and the long-gone leave the list', async () => {
    await emptyLists();
    // Listed first, so a removal that names no gift would take this one.
    const moved = await storedGift({ deliverAt: at(2 * DAY) });
    await markGiftDue(db, moved._id, at(-HOUR)); // the purchaser moved delivery two days on
    const paying = await storedGift({ status: 'pending_payment' });
    await markGiftDue(db, paying._id, paying.deliverAt);
    const refunded = await storedGift({ status: 'refunded' });
    await markGiftDue(db, refunded._id, refunded.deliverAt);
    const goneLong = new Types.ObjectId(); // listed, never stored: a sponsored gift that failed
    await markGiftDue(db, goneLong, at(-DAY - 1));
    const goneADay = new Types.ObjectId(); // listed exactly a day ago, not stored yet
    await markGiftDue(db, goneADay, at(-DAY));
    const goneNow = new Types.ObjectId(); // listed just before it is created
    await markGiftDue(db, goneNow, at(-HOUR));

    await deliverDueGifts(deps());

    const keys = (await emailModels(db).EmailJob.find().lean()).map((e) => e.idempotencyKey);
    for (const g of [moved, paying, refunded]) expect(keys).not.toContain(`gift-delivery:${g._id}`);
    expect(await dueIds()).toEqual([moved._id, paying._id, goneADay, goneNow].map(String).sort());

    // Its payment written, the gift still listed is delivered on the next run.
    await giftModel(db).updateOne({ _id: paying._id }, { $set: { status: 'paid' } });
    await deliverDueGifts(deps());
    expect(await status(paying._id)).toBe('delivered');
    expect(await queuedTo(`gift-delivery:${paying._id}`)).toEqual([paying.recipient.email]);
  });
});

describe('the sweep list', () => {
  const delivered = (days: number, fields: Partial<Gift> = {}) =>
    storedGift({
      status: 'delivered',
      deliveredAt: at(-days * DAY),
      expiresAt: at(-days * DAY + 365 * DAY),
      ...fields,
    });

  it('when delivered gifts are swept, then each is reminded on its day and listed again for its next step, the expired one told and taken off', async () => {
    await emptyLists();
    // Listed first and not due: a write that names no gift would land on it.
    const quiet = await delivered(1);
    await listOpenGift(db, quiet._id, at(6 * DAY));
    const threeDays = await delivered(3); // backfilled: due at once, nothing to send yet
    await listOpenGift(db, threeDays._id, threeDays.deliveredAt!);
    const weekToday = await delivered(7); // its seventh day, to the millisecond
    await listOpenGift(db, weekToday._id, at(0));
    const expired = await delivered(400, { expiresAt: at(-HOUR) });
    await listOpenGift(db, expired._id, at(-HOUR));

    await sweepGifts(deps());

    expect(await queuedTo('gift-reminder:')).toEqual([weekToday.recipient.email]);
    expect(await queuedTo('gift-expired:')).toEqual([expired.purchaser.email]);
    expect(await status(expired._id)).toBe('expired');
    expect(await nextAtOf(expired._id)).toBeUndefined();
    expect(await nextAtOf(quiet._id)).toEqual(at(6 * DAY));
    expect(await nextAtOf(threeDays._id)).toEqual(at(4 * DAY));
    expect(await nextAtOf(weekToday._id)).toEqual(at(23 * DAY));
  });

  it('when a listed gift is still finishing its delivery, redeemed, or gone, then nothing is sent, and only the finishing one stays listed', async () => {
    await emptyLists();
    const finishing = await storedGift({ status: 'paid' });
    await listOpenGift(db, finishing._id, at(-HOUR));
    const redeemed = await delivered(8, { status: 'redeemed' });
    await listOpenGift(db, redeemed._id, at(-DAY));
    const gone = new Types.ObjectId();
    await listOpenGift(db, gone, at(-DAY));

    await sweepGifts(deps());

    for (const g of [finishing, redeemed]) expect(await queuedTo(`gift-reminder:${g._id}`)).toEqual([]);
    expect((await giftOpenModel(db).find().lean()).map((o) => String(o._id))).toEqual([
      String(finishing._id),
    ]);
  });

  it('when a delivered gift holds no delivery or expiry date, as gifts from before they were recorded, then it is swept without an error: reminded at a month, then off the list', async () => {
    await emptyLists();
    const undated = await delivered(0, { deliveredAt: undefined, expiresAt: undefined });
    await listOpenGift(db, undated._id, at(-HOUR));
    const monthOld = await delivered(31, { expiresAt: undefined });
    await listOpenGift(db, monthOld._id, at(-DAY));

    await sweepGifts(deps());

    expect(await nextAtOf(undated._id)).toEqual(at(7 * DAY));
    expect(await queuedTo(`gift-reminder:${monthOld._id}:30`)).toEqual([monthOld.recipient.email]);
    expect(await nextAtOf(monthOld._id)).toBeUndefined();
  });
});
