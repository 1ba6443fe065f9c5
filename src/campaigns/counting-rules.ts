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
 * Where a subscription's free start ends: the end of the period its $0 `subscription_create` invoice
 * covered (a trial, a first period at 100 % off). Stripe's first invoice after it (billing reason
 * `subscription_cycle`) bills the period starting there, so that payment is the first money of a
 * member who joined on a trial. The free invoice and the payment name the same boundary from their
 * own entries, so each finds the other by key whichever is recorded first.
 */
export const freeStartBoundary = (subscriptionId: string, at: Date) =>
  `${subscriptionId}:${new Date(at).getTime()}`;

/** The boundary a $0 first invoice marks; undefined for every other entry. */
export const freeStartEnd = (entry: {
  kind: string;
  billingReason?: string;
  subscriptionId?: string;
  periodEnd?: Date;
}): string | undefined =>
  entry.kind === 'free_invoice' &&
  entry.billingReason === 'subscription_create' &&
  entry.subscriptionId &&
  entry.periodEnd
    ? freeStartBoundary(entry.subscriptionId, entry.periodEnd)
    : undefined;

/** The boundary a renewal payment starts at, which is a free start's end for a trial's first money. */
export const cycleStart = (payment: {
  billingReason?: string;
  subscriptionId?: string;
  periodStart?: Date;
}): string | undefined =>
  payment.billingReason === 'subscription_cycle' && payment.subscriptionId && payment.periodStart
    ? freeStartBoundary(payment.subscriptionId, payment.periodStart)
    : undefined;

/**
 * Whether a payment was the member's first with money, the one that made them count: the invoice
 * says so itself when it names its billing reason (`subscription_create`, or the `subscription_cycle`
 * invoice right after a free start: `followsFreeStart`, see `freeStartBoundary`); for entries from
 * before that was kept, it is their earliest payment. ADR 0011.
 */
export const isFirstPayment = (
  payment: { _id: string; billingReason?: string },
  earliestPaymentId: string | undefined,
  followsFreeStart = false,
): boolean =>
  payment.billingReason
    ? payment.billingReason === 'subscription_create' ||
      (payment.billingReason === 'subscription_cycle' && followsFreeStart)
    : payment._id === earliestPaymentId;
