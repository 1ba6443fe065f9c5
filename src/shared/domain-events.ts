// How one capability tells the rest of the app that something happened, without knowing who
// listens: memberships publish "member joined", campaigns count it. Handlers run in-process and
// are awaited, so a failing handler fails the webhook delivery and Stripe retries it. Delivery is
// at least once (a retry, or a second Stripe event about the same payment, publishes again with
// the same facts), so handlers must be idempotent.

import type { Attribution } from './attribution.js';

export interface MemberJoined {
  memberId: string;
  email: string;
  joinedAt: Date;
  source: 'checkout' | 'gift' | 'imported';
  campaign?: string;
  /** Whether money arrived as they joined; false for a trial or a 100 % promotion code. */
  paid?: boolean;
  /** Where their checkout came from (page, placement, referrer, UTM tags, newsletter). */
  attribution?: Attribution;
}

export interface LedgerRecorded {
  entryId: string;
  kind: string;
  memberId?: string;
  amount: number;
  currency: string;
  occurredAt: Date;
  /** For refunds and disputes: the Stripe id of the payment they take back. */
  reverses?: string;
  /** For refunds: this entry completes the refund of the whole payment (a partial refund is false). */
  fullRefund?: boolean;
  campaign?: string;
  /** Where the payment's checkout came from (payments only; a refund names the payment it reverses). */
  attribution?: Attribution;
}

/** A reader was sent to Stripe Checkout (the funnel's "checkouts started"). */
export interface CheckoutStarted {
  /** The session's reference: the same for a client's retry with the same Idempotency-Key. */
  reference: string;
  kind: 'membership' | 'one_time';
  campaign?: string;
  placement?: string;
  at: Date;
}

/** A Checkout Session of a membership or one-time contribution was paid (the funnel's "paid"). */
export interface CheckoutPaid {
  sessionId: string;
  kind: 'membership' | 'one_time';
  campaign?: string;
  placement?: string;
  at: Date;
}

/**
 * A card payment's dispute was lost: the cardholder's bank took the money back for good. What a
 * full refund takes back (a drive's count, a gift, a sponsorship pool's money) a lost dispute takes
 * back too. The money itself is in the ledger already (the withdrawal); this is the verdict.
 */
export interface PaymentChargedBack {
  disputeId: string;
  /** The ledger entry of the payment taken back. */
  reverses: string;
  paymentIntentId?: string;
  memberId?: string;
  /** The disputed amount, positive, in minor units of `currency`. */
  amount: number;
  currency: string;
  occurredAt: Date;
  /** Stripe's dispute reason (`fraudulent`, `product_not_received`, …). */
  reason: string;
}

/** A member's last subscription ended: they are no longer a paying member. */
export interface MemberCanceled {
  memberId: string;
  endedAt: Date;
}

/** A renewal charge failed (Stripe retries it; the reader was asked to update their card). */
export interface MemberPaymentFailed {
  invoiceId: string;
  customerId: string;
  amount: number;
  currency: string;
  occurredAt: Date;
}

/** A gift was paid for. */
export interface GiftPurchased {
  giftId: string;
  durationMonths: number;
  amount: number;
  currency: string;
  paidAt: Date;
  campaign?: string;
}

/** A gift was redeemed by its recipient. */
export interface GiftRedeemed {
  giftId: string;
  memberId: string;
  redeemedAt: Date;
}

/** A member's subscription renewed with money: a paid `subscription_cycle` invoice. */
export interface MemberRenewed {
  memberId: string;
  /** Stripe's invoice id: one renewal per invoice, however often Stripe sends it. */
  invoiceId: string;
  subscriptionId: string;
  amount: number;
  currency: string;
  renewedAt: Date;
  /** The end of the period the invoice pays for, when the invoice lists it. */
  periodEnd?: Date;
}

/** A reader confirmed a newsletter list (double opt-in), one event per list. */
export interface NewsletterConfirmed {
  /** Names the confirmation (a hash of its token): the same when a click is retried. */
  confirmation: string;
  list: string;
  /** The consent record written for it (no address: the record holds it). */
  consentId: string;
  confirmedAt: Date;
}

/** A reader left a newsletter list, one event per list. */
export interface NewsletterUnsubscribed {
  /** Names the subscription that ended (a hash of it and when it began): the same on a double click. */
  subscription: string;
  list: string;
  consentId: string;
  unsubscribedAt: Date;
}

/** A campaign's count reached a milestone (the highest reached, announced once). */
export interface CampaignMilestone {
  campaignId: string;
  slug: string;
  title: string;
  percent: number;
  count: number;
  goal: number;
  reachedAt: Date;
}

/** A sponsored membership was granted from a campaign's pool (a year's gift to a reader). */
export interface SponsorshipGranted {
  requestId: string;
  campaign?: string;
  durationMonths: number;
  /** What the pool paid for it, in minor units of `currency`. */
  amount: number;
  currency: string;
  grantedAt: Date;
}

export interface AddressSuppressed {
  email: string;
  reason: string;
}

export interface DomainEventMap {
  'member.joined': MemberJoined;
  'ledger.recorded': LedgerRecorded;
  'payment.charged_back': PaymentChargedBack;
  'address.suppressed': AddressSuppressed;
  'member.canceled': MemberCanceled;
  'member.payment_failed': MemberPaymentFailed;
  'gift.purchased': GiftPurchased;
  'gift.redeemed': GiftRedeemed;
  'member.renewed': MemberRenewed;
  'newsletter.confirmed': NewsletterConfirmed;
  'newsletter.unsubscribed': NewsletterUnsubscribed;
  'campaign.milestone': CampaignMilestone;
  'sponsorship.granted': SponsorshipGranted;
  'checkout.started': CheckoutStarted;
  'checkout.paid': CheckoutPaid;
}

type Handler<K extends keyof DomainEventMap> = (event: DomainEventMap[K]) => Promise<void> | void;

export class DomainEvents {
  private readonly handlers = new Map<keyof DomainEventMap, Handler<never>[]>();

  on<K extends keyof DomainEventMap>(name: K, handler: Handler<K>): void {
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), handler as Handler<never>]);
  }

  async publish<K extends keyof DomainEventMap>(name: K, event: DomainEventMap[K]): Promise<void> {
    for (const handler of (this.handlers.get(name) ?? []) as Handler<K>[]) await handler(event);
  }
}
