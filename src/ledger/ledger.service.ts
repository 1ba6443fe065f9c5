import type { Connection } from 'mongoose';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { calendarKeys } from '../shared/time.js';
import {
  type LedgerEntry,
  ledgerModel,
  movedByStripe,
  paymentLinkModel,
  STRIPE_PAYMENT_KINDS,
  settlementDueModel,
} from './ledger.model.js';
import { listMemberEntry } from './member-entries.js';

export type NewLedgerEntry = Omit<LedgerEntry, 'day' | 'month' | 'recordedAt'>;

// Only money Stripe moved can be refunded or disputed through Stripe: a free or out-of-band
// invoice is never the payment a refund or dispute takes back.
const PAYMENT_KINDS = new Set<string>(STRIPE_PAYMENT_KINDS);

type LedgerDeps = { db: Connection; clock: Clock; timeZone: string; events: DomainEvents };

/**
 * Records money once. The entry's _id is the Stripe object it stands for, so a second attempt
 * (a duplicate event, a replay) finds it taken and changes nothing. Listeners hear about it on
 * every attempt (they are idempotent), so one that failed the first time catches up on the retry.
 * Returns whether the entry was new.
 */
export async function recordLedgerEntry(deps: LedgerDeps, entry: NewLedgerEntry): Promise<boolean> {
  let created = true;
  // Marked due before it exists, so no crash leaves Stripe money that the sweep never settles.
  if (movedByStripe(entry.kind)) await markSettlementDue(deps.db, entry._id, entry.occurredAt);
  // Listed under its member before it exists too, so the member's page finds it by primary key.
  if (entry.memberId) await listMemberEntry(deps.db, entry.memberId, entry._id);
  try {
    await ledgerModel(deps.db).create({
      ...entry,
      ...calendarKeys(entry.occurredAt, deps.timeZone),
      recordedAt: deps.clock.now(),
    });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    created = false;
  }
  if (PAYMENT_KINDS.has(entry.kind))
    await linkPayment(deps.db, entry._id, [entry.paymentIntentId, entry.chargeId]);
  await deps.events.publish('ledger.recorded', {
    entryId: entry._id,
    kind: entry.kind,
    memberId: entry.memberId ? String(entry.memberId) : undefined,
    amount: entry.amount,
    currency: entry.currency,
    occurredAt: entry.occurredAt,
    reverses: entry.reverses,
    fullRefund: entry.fullRefund,
    campaign: entry.campaign,
    attribution: entry.attribution,
  });
  return created;
}

/** Puts an entry in the settlement sweep's list; marking it twice is a no-op. */
export async function markSettlementDue(db: Connection, entryId: string, occurredAt: Date): Promise<void> {
  await settlementDueModel(db)
    .create({ _id: entryId, occurredAt })
    .catch((error: unknown) => {
      if (!isDuplicateKey(error)) throw error;
    });
}

/** Names the payment entry behind Stripe ids (PaymentIntent, charge); writing a link twice is a no-op. */
export async function linkPayment(
  db: Connection,
  entryId: string,
  stripeIds: (string | null | undefined)[],
): Promise<void> {
  for (const id of new Set(stripeIds)) {
    if (!id || id === entryId) continue;
    await paymentLinkModel(db)
      .create({ _id: id, entryId })
      .catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error;
      });
  }
}

/**
 * The payment entry that Stripe ids name, by primary key only: an entry recorded under the id
 * itself (a one-time payment's PaymentIntent, an invoice), or one a link names.
 */
export async function findPayment(
  db: Connection,
  stripeIds: (string | null | undefined)[],
): Promise<LedgerEntry | null> {
  for (const id of stripeIds) {
    if (!id) continue;
    const entryId = (await paymentLinkModel(db).findById(id).lean())?.entryId ?? id;
    const entry = await ledgerModel(db).findById(entryId).lean<LedgerEntry>();
    if (entry && PAYMENT_KINDS.has(entry.kind)) return entry;
  }
  return null;
}
