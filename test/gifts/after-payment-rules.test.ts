import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itemsAtAddress } from '../../src/email/address-records.js';
import { emailModels } from '../../src/email/email.model.js';
import {
  codeKey,
  type Gift,
  giftModel,
  keyGift,
  listOpenGift,
  markGiftDue,
  paymentKey,
} from '../../src/gifts/gift.model.js';
import { resendGift, sweepGifts, updateGiftBeforeDelivery } from '../../src/gifts/gift.service.js';
import { hashCode } from '../../src/gifts/gift-common.js';
import type { GiftDeps } from '../../src/gifts/gift-deps.js';
import { decisionKey, giftRefundable, redeemGift, viewGift } from '../../src/gifts/gift-redemption.js';
import { giftsCapability } from '../../src/gifts/gifts.capability.js';
import { claimOnce, decideOnce } from '../../src/infra/claims.js';
import { createLogger } from '../../src/infra/logger.js';
import { createGiftMember } from '../../src/memberships/gift-membership.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { DomainEvents } from '../../src/shared/domain-events.js';
import { createTestDatabase, manualClock, releaseTestDatabase, testConfig } from '../support/test-app.js';
import { giftRecord, giftTestDeps } from './gift-fixtures.js';

// A paid gift's rules called directly: the purchaser's resend and changes, what a redemption link
// shows before delivery, and which gifts an early fraud warning may refund. The HTTP flows are in
// gifts.test.ts and gift-refund-race.test.ts.

let db: Connection;
const clock = manualClock(new Date('2026-11-27T12:00:00Z'));
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));

const deps = (): GiftDeps => giftTestDeps(db, clock);

let seq = 0;
/** A gift stored as the purchase and delivery leave it, with a code when it has been sent one. */
async function storedGift(fields: Partial<Gift> & { code?: string; paymentIntentId?: string } = {}) {
  const n = ++seq;
  const { code, ...rest } = fields;
  const gift = {
    ...giftRecord('after', n, new Date(clock.now().getTime() - 86_400_000)),
    status: 'delivered' as const,
    paymentIntentId: `pi_after_${n}`,
    ...(code ? { codeHash: hashCode(code) } : {}),
    ...rest,
  };
  await giftModel(db).create(gift);
  await keyGift(db, paymentKey(gift.paymentIntentId), gift._id);
  if (code) await keyGift(db, codeKey(hashCode(code)), gift._id);
  return gift;
}
const emailsTo = (email: string) => emailModels(db).EmailJob.find({ 'to.email': email }).lean();
const codeOf = (url: string) => new URL(url).searchParams.get('code')!;

describe('the purchaser resends a delivered gift', () => {
  it('when the purchaser resends, then the recipient gets a new code once per ten minutes, and the old code stops working', async () => {
    const gift = await storedGift({ code: 'the-first-code-of-the-gift' });
    await resendGift(deps(), String(gift._id));
    clock.advance(60_000);
    await resendGift(deps(), String(gift._id)); // a double click, a minute later
    let sent = await emailsTo(gift.recipient.email);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      template: 'gift-delivery',
      to: { email: gift.recipient.email, name: 'Taras' },
      data: { recipientName: 'Taras', fromName: 'Olena', message: 'Happy birthday', durationMonths: 3 },
    });
    const code = codeOf((sent[0]!.data as { redeemUrl: string }).redeemUrl);
    expect(await viewGift(deps(), code)).toMatchObject({ state: 'ready' });
    expect(await viewGift(deps(), 'the-first-code-of-the-gift')).toEqual({ state: 'unknown' });

    clock.advance(10 * 60_000);
    await resendGift(deps(), String(gift._id));
    sent = await emailsTo(gift.recipient.email);
    expect(sent).toHaveLength(2);
    expect(await viewGift(deps(), code)).toEqual({ state: 'unknown' });
    expect(await emailsTo(gift.purchaser.email)).toHaveLength(0);
  });

  it('when the purchaser resends a gift not delivered yet or already used, then it is refused and nothing is sent', async () => {
    for (const status of ['paid', 'redeemed'] as const) {
      const gift = await storedGift({ status });
      await expect(resendGift(deps(), String(gift._id))).rejects.toMatchObject({
        code: 'conflict',
        message: 'Only a delivered, unredeemed gift can be sent again.',
      });
      expect(await emailsTo(gift.recipient.email)).toHaveLength(0);
    }
    await expect(resendGift(deps(), String(new Types.ObjectId()))).rejects.toMatchObject({
      code: 'conflict',
    });
  });
});

describe('the purchaser changes a gift before delivery', () => {
  it('when the purchaser changes a gift delivered already, or one that does not exist, then it is refused and the gift stays', async () => {
    const gift = await storedGift();
    for (const id of [String(gift._id), String(new Types.ObjectId())])
      await expect(
        updateGiftBeforeDelivery(deps(), id, { recipientEmail: 'late@example.com', deliverOn: '2026-12-24' }),
      ).rejects.toMatchObject({ code: 'conflict', message: 'This gift has already been delivered.' });
    expect(await giftModel(db).findById(gift._id).lean()).toMatchObject({ recipient: gift.recipient });
  });
});

describe('the purchaser changes a gift before delivery, allowed', () => {
  it('when the purchaser changes a gift still unpaid or paid, then its recipient and day are stored as changed', async () => {
    for (const status of ['pending_payment', 'paid'] as const) {
      const gift = await storedGift({ status, deliverAt: new Date('2026-12-01T07:00:00Z') });
      await updateGiftBeforeDelivery(deps(), String(gift._id), {
        recipientEmail: `changed-${status}@example.com`,
        deliverOn: '2026-12-24',
      });
      expect(await giftModel(db).findById(gift._id).lean(), status).toMatchObject({
        status,
        recipient: { name: 'Taras', email: `changed-${status}@example.com` },
        deliverAt: new Date('2026-12-24T07:00:00Z'),
      });
    }
  });

  it('when the purchaser moves a paid gift to today, to a new recipient, then it is delivered to them at once and listed under their address', async () => {
    const gift = await storedGift({ status: 'paid', deliverAt: new Date('2026-12-10T07:00:00Z') });
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Kyiv' }).format(clock.now());
    await updateGiftBeforeDelivery(deps(), String(gift._id), {
      recipientEmail: 'moved-to-today@example.com',
      deliverOn: today,
    });
    expect(await giftModel(db).findById(gift._id).lean()).toMatchObject({
      status: 'delivered',
      deliveredAt: clock.now(),
    });
    expect(await emailsTo('moved-to-today@example.com')).toMatchObject([{ template: 'gift-delivery' }]);
    expect(await itemsAtAddress(db, 'moved-to-today@example.com')).toContainEqual({
      kind: 'gift',
      ref: String(gift._id),
    });
  });
});

describe('what a redemption link shows before delivery', () => {
  it('when a code names a paid gift whose day has not come, or one not paid, then it is not ready yet; once its day comes, then it is ready', async () => {
    const later = await storedGift({
      status: 'paid',
      code: 'a-code-for-a-later-gift',
      deliverAt: new Date(clock.now().getTime() + 86_400_000),
    });
    expect(await viewGift(deps(), 'a-code-for-a-later-gift')).toEqual({ state: 'not_yet' });
    await storedGift({ status: 'pending_payment', code: 'a-code-for-an-unpaid-gift' });
    expect(await viewGift(deps(), 'a-code-for-an-unpaid-gift')).toEqual({ state: 'not_yet' });
    await storedGift({ status: 'paid', code: 'a-code-for-a-gift-due-now', deliverAt: clock.now() });
    expect(await viewGift(deps(), 'a-code-for-a-gift-due-now')).toMatchObject({ state: 'ready' });
    expect(later.status).toBe('paid');
  });
});

describe('which gifts an early fraud warning may refund', () => {
  it('when a gift is paid, delivered or expired and no redemption was decided, then it is refundable; otherwise not', async () => {
    for (const status of ['paid', 'delivered', 'expired'] as const) {
      const gift = await storedGift({ status });
      expect(await giftRefundable(deps(), gift.paymentIntentId), status).toBe(true);
      await claimOnce(db, decisionKey(gift), clock.now());
      expect(await giftRefundable(deps(), gift.paymentIntentId), `${status}, claimed`).toBe(false);
    }
    for (const status of ['pending_payment', 'redeemed', 'refunded'] as const) {
      const gift = await storedGift({ status });
      expect(await giftRefundable(deps(), gift.paymentIntentId), status).toBe(false);
    }
    expect(await giftRefundable(deps(), 'pi_of_no_gift')).toBe(false);
  });
});

describe('a redemption and a refund that decided first', () => {
  it('when a refund decided first and the recipient redeems, then they are told it was cancelled and the gift is refunded', async () => {
    const gift = await storedGift({ code: 'a-code-of-a-refunded-gift' });
    const at = new Date('2026-11-26T10:00:00Z');
    await decideOnce(db, decisionKey(gift), at, { outcome: 'refunded', at });
    expect(await redeemGift(deps(), 'a-code-of-a-refunded-gift', 'taras@example.com')).toEqual({
      state: 'refunded',
    });
    expect(await giftModel(db).findById(gift._id).lean()).toMatchObject({
      status: 'refunded',
      refundedAt: at,
    });
  });

  it('when a claim from before decisions were recorded holds the gift, then a redemption finds it used', async () => {
    const gift = await storedGift({ code: 'a-code-of-an-old-claim' });
    await claimOnce(db, decisionKey(gift), clock.now());
    expect(await redeemGift(deps(), 'a-code-of-an-old-claim', 'taras@example.com')).toEqual({
      state: 'redeemed',
    });
  });
});

describe('what the gifts capability runs', () => {
  const context = () => ({
    config: testConfig(),
    db,
    clock,
    logger: createLogger({ level: 'silent' }),
    metrics: undefined as never,
    stripe: null,
    events: new DomainEvents(),
  });

  it('when a gift’s payment is charged back, then the gift is refunded as of the chargeback; a chargeback naming no payment changes nothing', async () => {
    const ctx = context();
    giftsCapability.listen!(ctx);
    const gift = await storedGift();
    const chargeback = { disputeId: 'dp_1', reverses: gift.paymentIntentId, amount: 1300, currency: 'gbp' };
    const at = new Date('2026-11-27T10:00:00Z');
    await ctx.events.publish('payment.charged_back', { ...chargeback, occurredAt: at, reason: 'fraudulent' });
    expect(await giftModel(db).findById(gift._id).lean()).toMatchObject({ status: 'delivered' });
    await ctx.events.publish('payment.charged_back', {
      ...chargeback,
      paymentIntentId: gift.paymentIntentId,
      occurredAt: at,
      reason: 'fraudulent',
    });
    expect(await giftModel(db).findById(gift._id).lean()).toMatchObject({
      status: 'refunded',
      refundedAt: at,
    });
  });

  it('when the process runs the gifts’ tasks, then due gifts are delivered every minute and expired ones are swept every hour', async () => {
    const tasks = giftsCapability.tasks!(context());
    expect(tasks.map(({ name, everyMs }) => ({ name, everyMs }))).toEqual([
      { name: 'gift-delivery', everyMs: 60_000 },
      { name: 'gift-sweep', everyMs: 3_600_000 },
    ]);
    const due = await storedGift({ status: 'paid', deliverAt: new Date(clock.now().getTime() - 60_000) });
    await markGiftDue(db, due._id, due.deliverAt);
    const ended = await storedGift({ expiresAt: clock.now() }); // expires at this very moment
    await listOpenGift(db, ended._id, ended.expiresAt!);
    await tasks[0]!.run();
    expect(await giftModel(db).findById(due._id).lean()).toMatchObject({ status: 'delivered' });
    await tasks[1]!.run();
    expect(await giftModel(db).findById(ended._id).lean()).toMatchObject({ status: 'expired' });
  });
});

describe('gift members near or past the end of their time', () => {
  const DAY = 86_400_000;
  /** A member a gift made, whose time ends `endsIn` ms after the clock. */
  async function giftMember(endsIn: number) {
    const memberId = new Types.ObjectId();
    const email = `gift-member-${++seq}@example.com`;
    await createGiftMember(deps(), {
      memberId,
      email,
      name: 'Taras',
      locale: 'en',
      giftId: String(new Types.ObjectId()),
      months: 1,
      at: clock.now(),
    });
    const end = new Date(clock.now().getTime() + endsIn);
    // Moved as gift time moves it (setGiftTimeEnd), which lists the new end for the sweep too.
    await membershipModels(db).Member.updateOne({ _id: memberId }, { $set: { currentPeriodEnd: end } });
    await membershipModels(db).GiftMemberEnd.updateOne({ _id: String(memberId) }, { $set: { endsAt: end } });
    return { memberId, email, end };
  }
  const memberOf = (id: Types.ObjectId) => membershipModels(db).Member.findById(id).lean();

  it('when a gift member’s time ends within seven days, then they are told once when it ends; ending later, they are not told yet', async () => {
    const soon = await giftMember(5 * DAY);
    const atSeven = await giftMember(7 * DAY);
    const later = await giftMember(8 * DAY);
    await sweepGifts(deps());
    await sweepGifts(deps());
    for (const member of [soon, atSeven]) {
      const sent = await emailsTo(member.email);
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({
        template: 'gift-ending',
        to: { email: member.email, name: 'Taras' },
        data: {
          name: 'Taras',
          continueUrl: expect.stringContaining(`/gifts/continue?m=${member.memberId}&sig=`),
        },
      });
      expect(await memberOf(member.memberId)).toMatchObject({ status: 'active' });
    }
    expect((await emailsTo(soon.email))[0]!.data).toMatchObject({ endsOn: '2 December 2026' });
    expect(await emailsTo(later.email)).toHaveLength(0);
  });

  it('when a gift member’s time has come to its end, then the membership expires as of that end, without an ending email', async () => {
    const ended = await giftMember(0);
    await sweepGifts(deps());
    expect(await memberOf(ended.memberId)).toMatchObject({ status: 'expired', endedAt: ended.end });
    expect(await emailsTo(ended.email)).toHaveLength(0);
  });

  it('when a gift member pays for a subscription, or holds no end, then the sweep leaves them alone', async () => {
    const paying = await giftMember(-DAY);
    await membershipModels(db).Subscription.create({
      _id: `sub_paying_${seq}`,
      memberId: paying.memberId,
      customerId: 'cus_paying',
      status: 'active',
      plan: 'monthly',
      interval: 'month',
      amount: 500,
      currency: 'eur',
      lastEventCreated: 1,
      lastEventId: 'evt_paying',
    });
    const endless = await giftMember(DAY);
    await membershipModels(db).Member.updateOne(
      { _id: endless.memberId },
      { $unset: { currentPeriodEnd: 1 } },
    );
    await sweepGifts(deps());
    expect(await memberOf(paying.memberId)).toMatchObject({ status: 'active' });
    expect(await memberOf(endless.memberId)).toMatchObject({ status: 'active' });
    expect(await emailsTo(endless.email)).toHaveLength(0);
  });
});
