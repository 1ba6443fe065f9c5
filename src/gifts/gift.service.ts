// What the rest of the app calls in gifts, by lifecycle stage: the Stripe webhook pays and refunds
// (webhooks/stripe-handlers.ts), the background jobs deliver and sweep (src/background.ts). Each
// stage lives in its own file; redemption and refund share one, since they decide through one claim.

export { DELIVERY_FINISH_MS, deliverDueGifts, resendGift } from './gift-delivery.js';
export type { GiftDeps } from './gift-deps.js';
export {
  abandonGiftCheckout,
  createGiftCheckout,
  fulfillGiftPayment,
  type GiftPurchase,
  updateGiftBeforeDelivery,
} from './gift-purchase.js';
export {
  giftRefundable,
  REDEMPTION_FINISH_MS,
  type RedemptionView,
  redeemGift,
  refundGift,
  viewGift,
} from './gift-redemption.js';
export { sweepGifts } from './gift-sweep.js';
