import type Stripe from 'stripe';
import { countGift } from '../campaigns/campaign.service.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { AppError } from '../http/errors.js';
import { idOf } from '../infra/stripe.js';
import { recordLedgerEntry } from '../ledger/ledger.service.js';
import { METADATA_APP } from '../memberships/checkout.service.js';
import { type Gift, giftModel, keyGift, paymentKey } from './gift.model.js';
import { deliveryTime, giftPrice, longDate, manageUrl } from './gift-common.js';
import { deliverDueGifts } from './gift-delivery.js';
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

/** The gift waits as pending_payment; the Stripe webhook moves it to paid. */
export async function createGiftCheckout(
  deps: GiftDeps,
  input: GiftPurchase,
): Promise<{ giftId: string; url: string }> {
  const sessions = deps.stripe ?? deps.localCheckout;
  if (!sessions) throw new AppError('payments_not_configured');
  const amount = giftPrice(deps.options, input.durationMonths, input.currency);
  const deliverAt = deliveryTime(deps, input.deliverOn, deps.clock.now());
  const gift = await giftModel(deps.db).create({
    status: 'pending_payment',
    purchaser: input.purchaser,
    recipient: input.recipient,
    message: input.message,
    showPurchaserName: input.showPurchaserName,
    durationMonths: input.durationMonths,
    amount,
    currency: input.currency,
    locale: input.locale,
    deliverAt,
    campaign: input.campaign,
  });
  const metadata = {
    app: METADATA_APP,
    kind: 'gift',
    giftId: String(gift._id),
    ...(input.campaign ? { campaign: input.campaign } : {}),
  };
  const creating = sessions.checkout.sessions.create(
    {
      mode: 'payment',
      line_items: [
        {
          quantity: 1,
          price_data: {
            currency: input.currency,
            unit_amount: amount,
            product_data: { name: `Gift membership, ${input.durationMonths} months` },
          },
        },
      ],
      customer_email: input.purchaser.email,
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
    await giftModel(deps.db).deleteOne({ _id: gift._id });
    throw error;
  });
  await giftModel(deps.db).updateOne({ _id: gift._id }, { $set: { checkoutSessionId: session.id } });
  if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
  return { giftId: String(gift._id), url: session.url };
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
  await giftModel(deps.db).updateOne(
    { _id: gift._id, status: 'pending_payment' },
    { $set: { status: 'paid', paidAt: occurredAt, paymentIntentId } },
  );
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
  if (gift.deliverAt <= deps.clock.now()) await deliverDueGifts(deps);
  return 'applied';
}

/** Before delivery the purchaser may change the recipient's email or the day. */
export async function updateGiftBeforeDelivery(
  deps: GiftDeps,
  giftId: string,
  changes: { recipientEmail: string; deliverOn: string },
) {
  const gift = await giftModel(deps.db).findById(giftId).lean<Gift>();
  if (!gift || !['pending_payment', 'paid'].includes(gift.status))
    throw new AppError('conflict', 'This gift has already been delivered.');
  const now = deps.clock.now();
  const deliverAt = deliveryTime(deps, changes.deliverOn, now);
  await giftModel(deps.db).updateOne(
    { _id: gift._id, status: { $in: ['pending_payment', 'paid'] } },
    { $set: { 'recipient.email': changes.recipientEmail, deliverAt } },
  );
  if (deliverAt <= now) await deliverDueGifts(deps);
}
