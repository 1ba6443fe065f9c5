import type { LedgerKind } from '../ledger/ledger.model.js';
import type { Member } from '../memberships/membership.model.js';
import type { Campaign } from './campaign.model.js';

// Who and what a drive counts, in one place: live counting (campaign.service.ts) applies these
// rules event by event, and `campaigns:rebuild` (rebuild.ts), the proof of the live count, applies
// the same ones over the stored members and ledger, so the two cannot drift apart. ADR 0011.

/**
 * Members no drive counts as new: a reader who joined by redeeming a gift (the gift counted when it
 * was paid), and a supporter brought by an import (a member before any drive, whatever date the
 * old system gave them).
 */
export const NEVER_NEW: readonly Member['source'][] = ['gift', 'imported'];

/** Whether a member who joined this way can count as new toward a drive. */
export const countsAsNewMember = (source: string | undefined): boolean =>
  source !== undefined && !(NEVER_NEW as readonly string[]).includes(source);

/** A campaign's window holds an instant: from its start, up to (not including) its end. */
export const insideWindow = (campaign: Pick<Campaign, 'startsAt' | 'endsAt'>, at: Date): boolean =>
  campaign.startsAt <= at && at < campaign.endsAt;

/** `insideWindow` as a query on a date field (`campaigns:rebuild` reads members by it). */
export const insideWindowFilter = (campaign: Pick<Campaign, 'startsAt' | 'endsAt'>) => ({
  $gte: campaign.startsAt,
  $lt: campaign.endsAt,
});

/** `countsAsNewMember` as a query on the member's `source`. */
export const countsAsNewMemberFilter = () => ({ $nin: [...NEVER_NEW] });

/** Payments whose full refund (or loss to a dispute) can take a member's first payment back. */
export const PAYMENT_KINDS: readonly LedgerKind[] = [
  'subscription_payment',
  'one_time_payment',
  'gift_purchase',
];

/** A member's money, through Stripe or received outside it: a payment with some counts them. */
export const MEMBER_MONEY: readonly LedgerKind[] = ['subscription_payment', 'out_of_band_payment'];

/**
 * Whether a payment was the member's first: the invoice says so itself when it names its billing
 * reason; for entries from before that was kept, it is their earliest payment.
 */
export const isFirstPayment = (
  payment: { _id: string; billingReason?: string },
  earliestPaymentId: string | undefined,
): boolean =>
  payment.billingReason ? payment.billingReason === 'subscription_create' : payment._id === earliestPaymentId;
