import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import type Stripe from 'stripe';
import { countGift } from '../campaigns/campaign.service.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { AppError } from '../http/errors.js';
import { claimOnce, hasClaim } from '../infra/claims.js';
import { isDuplicateKey } from '../infra/db.js';
import { idOf } from '../infra/stripe.js';
import { recordLedgerEntry } from '../ledger/ledger.service.js';
import { METADATA_APP } from '../memberships/checkout.service.js';
import { translate } from '../shared/messages.js';
import { calendarKeys } from '../shared/time.js';
import {
  type Gift,
  giftDueModel,
  giftModel,
  keyGift,
  listGiftAtAddresses,
  markGiftDue,
  paymentKey,
} from './gift.model.js';
import { deliveryTime, giftPrice, longDate, manageUrl } from './gift-common.js';
import { deliverGiftIfDue } from './gift-delivery.js';
import type { GiftDeps } from './gift-deps.js';

// Buying a gift: the checkout that stores it as pending_payment, the payment that makes it paid
// (money recorded once, a receipt, the campaigns count it), and the purchaser's changes before it
// is delivered.

export interface GiftPurchase {
  purchaser: { name: string; email: string };
  recipient: { name: string; email: string };
  message: string;
  durationMonths: number;
  currency: string;
  deliverOn: string; // YYYY-MM-DD in the newsroom's time zone
  locale: string;
  showPurchaserName: boolean;
  campaign?: string;
}

/** Tax and the key that makes a retry return the same checkout (see createGiftCheckout). */
export interface GiftCheckoutOptions {
  /** The client's Idempotency-Key header. */
  idempotencyKey?: string;
  /** STRIPE_AUTOMATIC_TAX: Stripe Tax on the gift, the price shown being the price paid. */
  automaticTax?: boolean;
}

// A retry that finds the gift stored but its session not yet (another request is creating it)
// waits this long for that request before asking Stripe itself (with the same idempotency key).
const WAIT_FOR_SESSION_MS = 5_000;

/** The gift a client's Idempotency-Key names: the same key is the same gift, in any process. */
function giftIdFor(idempotencyKey: string): Types.ObjectId {
  return new Types.ObjectId(createHash('sha256').update(`gift:${idempotencyKey}`).digest('hex').slice(0, 24));
}

/** A gift whose checkout ended unpaid was cleaned; its id stays refused for a day (abandonGiftCheckout). */
const abandonedClaim = (giftId: Types.ObjectId | string) => `gift-abandoned:${giftId}`;

/** What the purchaser chose, compared field by field: one key, one purchase. */
function sameChoice(gift: Gift, fields: Omit<Gift, '_id' | 'status' | 'createdAt'>, timeZone: string) {
  return (
    gift.purchaser.email === fields.purchaser.email &&
    gift.purchaser.name === fields.purchaser.name &&
    gift.recipient.email === fields.recipient.email &&
    gift.recipient.name === fields.recipient.name &&
    gift.message === fields.message &&
    gift.showPurchaserName === fields.showPurchaserName &&
    gift.durationMonths === fields.durationMonths &&
    gift.currency === fields.currency &&
    gift.locale === fields.locale &&
    (gift.campaign ?? undefined) === (fields.campaign ?? undefined) &&
    // The day, not the time: a gift for today is delivered "now", a moment later on each retry.
    calendarKeys(gift.deliverAt, timeZone).day === calendarKeys(fields.deliverAt, timeZone).day
  );
}

const keyReused = () => new AppError('idempotency_key_reused');
const checkoutEnded = () =>
  new AppError('idempotency_key_reused', translate('en', 'gifts.problem.checkoutEnded'));

/**
 * The gift waits as pending_payment; the Stripe webhook moves it to paid, or cleans it when its
 * checkout ends unpaid (abandonGiftCheckout). With the client's Idempotency-Key the gift's id
 * follows the key, so a retry (in sequence or at the same moment, in any process) finds the same
 * gift, and asks Stripe with the same parameters and key, so Stripe answers with the same session.
 */
export async function createGiftCheckout(
  deps: GiftDeps,
  input: GiftPurchase,
  options: GiftCheckoutOptions = {},
): Promise<{ giftId: string; url: string }> {
  const sessions = deps.stripe ?? deps.localCheckout;
  if (!sessions) throw new AppError('payments_not_configured');
  const fields = {
    purchaser: input.purchaser,
    recipient: input.recipient,
    message: input.message,
    showPurchaserName: input.showPurchaserName,
    durationMonths: input.durationMonths,
    amount: giftPrice(deps.options, input.durationMonths, input.currency),
    currency: input.currency,
    locale: input.locale,
    deliverAt: deliveryTime(deps, input.deliverOn, deps.clock.now()),
    campaign: input.campaign,
  };
  const Gifts = giftModel(deps.db);
  const _id = options.idempotencyKey ? giftIdFor(options.idempotencyKey) : new Types.ObjectId();
  await listGiftAtAddresses(deps.db, _id, [input.purchaser.email, input.recipient.email]);
  if (!options.idempotencyKey) {
    const gift = (await Gifts.create({ _id, status: 'pending_payment', ...fields })).toObject<Gift>();
    return openGiftSession(deps, sessions, gift, options, true);
  }
  const waitUntil = Date.now() + WAIT_FOR_SESSION_MS;
  for (;;) {
    if (await hasClaim(deps.db, abandonedClaim(_id))) throw checkoutEnded();
    const created = await Gifts.create({ _id, status: 'pending_payment', ...fields }).then(
      (gift) => gift.toObject<Gift>(),
      (error: unknown) => {
        if (isDuplicateKey(error)) return null;
        throw error;
      },
    );
    if (created) return openGiftSession(deps, sessions, created, options, true);
    const stored = await Gifts.findById(_id).lean<Gift>();
    if (!stored) {
      // Its first request failed at Stripe and removed it: start over, for as long as we wait.
      if (Date.now() < waitUntil) continue;
      throw keyReused();
    }
    if (!sameChoice(stored, fields, deps.timeZone)) throw keyReused();
    // The first request is still asking Stripe: its answer is ours (Stripe sees one request).
    if (!stored.checkoutSessionId && stored.status === 'pending_payment' && Date.now() < waitUntil) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    return openGiftSession(deps, sessions, stored, options, false);
  }
}

/**
 * Asks Stripe for the gift's Checkout Session. Every parameter comes from the stored gift and the
 * key is the gift's, so asking again returns the session Stripe already made.
 */
async function openGiftSession(
  deps: GiftDeps,
  sessions: NonNullable<GiftDeps['localCheckout']>,
  gift: Gift,
  options: GiftCheckoutOptions,
  /** This request stored the gift: a Stripe failure removes it again. */
  stored: boolean,
): Promise<{ giftId: string; url: string }> {
  const metadata = {
    app: METADATA_APP,
    kind: 'gift',
    giftId: String(gift._id),
    ...(gift.campaign ? { campaign: gift.campaign } : {}),
  };
  const creating = sessions.checkout.sessions.create(
    {
      mode: 'payment',
      line_items: [
        {
          quantity: 1,
          price_data: {
            currency: gift.currency,
            unit_amount: gift.amount,
            product_data: { name: `Gift membership, ${gift.durationMonths} months` },
            // The price on our page is what the purchaser pays; Stripe Tax takes its part from it.
            ...(options.automaticTax ? { tax_behavior: 'inclusive' as const } : {}),
          },
        },
      ],
      ...(options.automaticTax ? { automatic_tax: { enabled: true } } : {}),
      customer_email: gift.purchaser.email,
      client_reference_id: String(gift._id),
      metadata,
      payment_intent_data: { metadata },
      success_url: `${deps.publicBaseUrl}/gifts/thanks`,
      cancel_url: `${deps.publicBaseUrl}/gifts`,
    },
    { idempotencyKey: `gift-checkout:${gift._id}` },
  );
  // Stripe failed: no session, so no payment can ever name this gift; do not leave it half-stored.
  const session = await creating.catch(async (error) => {
    if (stored) await giftModel(deps.db).deleteOne({ _id: gift._id });
    throw error;
  });
  if (gift.checkoutSessionId !== session.id)
    await giftModel(deps.db).updateOne({ _id: gift._id }, { $set: { checkoutSessionId: session.id } });
  // Its checkout ended unpaid meanwhile (abandonGiftCheckout claims before it deletes).
  if (await hasClaim(deps.db, abandonedClaim(gift._id))) {
    await giftModel(deps.db).deleteOne({ _id: gift._id });
    throw checkoutEnded();
  }
  if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
  return { giftId: String(gift._id), url: session.url };
}

/**
 * A gift's Checkout Session ended without payment (`checkout.session.expired`, or
 * `checkout.session.async_payment_failed` after a delayed method failed): the pending gift is
 * removed, so a card tester's abandoned checkouts leave nothing. A session either completes or
 * expires, never both, so an expired session was never paid; a gift that is not pending (paid by
 * this or any session) or that waits on another session of its own is left alone. The claim is
 * taken before the delete so that a retry of the same purchase (createGiftCheckout) learns the
 * checkout ended instead of storing the gift again.
 */
export async function abandonGiftCheckout(
  deps: Pick<GiftDeps, 'db' | 'clock' | 'logger'>,
  session: Stripe.Checkout.Session,
): Promise<'applied' | 'ignored'> {
  const giftId = session.metadata?.giftId;
  if (!giftId || !/^[0-9a-f]{24}$/.test(giftId)) return 'ignored';
  if (session.payment_status === 'paid') return 'ignored'; // never: what was paid is never cleaned
  const gift = await giftModel(deps.db).findById(giftId).lean<Gift>();
  if (!gift) return 'applied'; // cleaned already (a duplicate delivery)
  if (gift.status !== 'pending_payment') return 'ignored';
  if (gift.checkoutSessionId && gift.checkoutSessionId !== session.id) return 'ignored';
  await claimOnce(deps.db, abandonedClaim(gift._id), deps.clock.now());
  // By `_id` alone (the one filter FerretDB answers from its index): the checks above decided.
  await giftModel(deps.db).deleteOne({ _id: gift._id });
  deps.logger.info({ giftId, sessionId: session.id }, 'gift checkout ended unpaid: pending gift removed');
  return 'applied';
}

/** A paid gift session: paid once, money recorded once, the purchaser gets a receipt, campaigns count it. */
export async function fulfillGiftPayment(
  deps: GiftDeps,
  session: Stripe.Checkout.Session,
  occurredAt: Date,
  /** For the receipt: Stripe's receipt page and the charity statement (memberships/receipt-links.ts). */
  receipt: { receiptUrl?: string; charityStatement?: string } = {},
): Promise<'applied' | 'ignored' | 'pending'> {
  const giftId = session.metadata?.giftId;
  const gift =
    giftId && /^[0-9a-f]{24}$/.test(giftId) ? await giftModel(deps.db).findById(giftId).lean<Gift>() : null;
  if (!gift) return 'ignored';
  if (session.payment_status !== 'paid') return 'pending';
  const paymentIntentId = idOf(session.payment_intent);
  if (paymentIntentId) await keyGift(deps.db, paymentKey(paymentIntentId), gift._id);
  // Read again just before writing, then write by `_id` alone: `{_id, status}` would read every gift
  // on FerretDB, where a conditional update is no more atomic than this (ADR 0001). Only a payment
  // moves a gift on from pending, so a repeat finds it paid (or delivered) and leaves it.
  const current = await giftModel(deps.db)
    .findById(gift._id)
    .select({ status: 1, deliverAt: 1 })
    .lean<Gift>();
  if (current?.status === 'pending_payment') {
    // Listed for delivery first, so no crash leaves a paid gift the delivery never reads.
    await markGiftDue(deps.db, gift._id, current.deliverAt);
    await giftModel(deps.db).updateOne(
      { _id: gift._id },
      { $set: { status: 'paid', paidAt: occurredAt, paymentIntentId } },
    );
  }
  await recordLedgerEntry(
    { ...deps, timeZone: deps.timeZone },
    {
      _id: paymentIntentId ?? session.id,
      kind: 'gift_purchase',
      amount: session.amount_total ?? gift.amount,
      currency: session.currency ?? gift.currency,
      occurredAt,
      email: gift.purchaser.email,
      name: gift.purchaser.name,
      paymentIntentId,
      checkoutSessionId: session.id,
      plan: `gift_${gift.durationMonths}m`,
      campaign: gift.campaign,
    },
  );
  await enqueueEmail(deps.db, deps.clock, {
    template: 'gift-receipt',
    to: gift.purchaser,
    locale: gift.locale,
    data: {
      name: gift.purchaser.name,
      recipientName: gift.recipient.name,
      durationMonths: gift.durationMonths,
      amount: session.amount_total ?? gift.amount,
      currency: gift.currency.toUpperCase(),
      deliverOn: longDate(gift.deliverAt, deps.timeZone),
      manageUrl: manageUrl(deps, String(gift._id)),
      ...receipt,
    },
    idempotencyKey: `gift-receipt:${gift._id}`,
  });
  await countGift(deps, { giftId: String(gift._id), paidAt: occurredAt, campaign: gift.campaign });
  await deps.events.publish('gift.purchased', {
    giftId: String(gift._id),
    durationMonths: gift.durationMonths,
    amount: session.amount_total ?? gift.amount,
    currency: gift.currency,
    paidAt: occurredAt,
    campaign: gift.campaign,
  });
  if (gift.deliverAt <= deps.clock.now()) await deliverGiftIfDue(deps, gift._id);
  return 'applied';
}

/**
 * Before delivery the purchaser may change the recipient's email or the day. The delivery list's
 * time stays no later than the gift's, whatever step a crash stops at: a day moved earlier is
 * listed before the gift is changed, a day moved later after.
 */
export async function updateGiftBeforeDelivery(
  deps: GiftDeps,
  giftId: string,
  changes: { recipientEmail: string; deliverOn: string },
) {
  const gift = await giftModel(deps.db).findById(giftId).lean<Gift>();
  if (!gift || !['pending_payment', 'paid'].includes(gift.status))
    throw new AppError('conflict', translate('en', 'gifts.problem.delivered'));
  const now = deps.clock.now();
  const deliverAt = deliveryTime(deps, changes.deliverOn, now);
  await listGiftAtAddresses(deps.db, gift._id, [changes.recipientEmail]);
  // Upserted for a paid gift; a pending one is listed by its payment (which may be under way).
  const list = () =>
    giftDueModel(deps.db).updateOne(
      { _id: gift._id },
      { $set: { deliverAt } },
      { upsert: gift.status === 'paid' },
    );
  if (deliverAt < gift.deliverAt) await list();
  // Read again just before writing, then write by `_id` alone: `{_id, status}` would read every gift
  // on FerretDB, where a conditional update is no more atomic than this (ADR 0001).
  const current = await giftModel(deps.db).findById(gift._id).select({ status: 1 }).lean<Gift>();
  if (!current || !['pending_payment', 'paid'].includes(current.status))
    throw new AppError('conflict', translate('en', 'gifts.problem.delivered'));
  await giftModel(deps.db).updateOne(
    { _id: gift._id },
    { $set: { 'recipient.email': changes.recipientEmail, deliverAt } },
  );
  if (deliverAt >= gift.deliverAt) await list();
  if (deliverAt <= now) await deliverGiftIfDue(deps, gift._id);
}
