import type { Connection } from 'mongoose';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { calendarKeys } from '../shared/time.js';
import { type LedgerEntry, ledgerModel } from './ledger.model.js';

export type NewLedgerEntry = Omit<LedgerEntry, 'day' | 'month' | 'recordedAt'>;

/**
 * Records money once. The entry's _id is the Stripe object it stands for, so a second attempt
 * (a duplicate event, a replay) finds it taken and changes nothing. Listeners hear about it on
 * every attempt (they are idempotent), so one that failed the first time catches up on the retry.
 * Returns whether the entry was new.
 */
export async function recordLedgerEntry(
  deps: { db: Connection; clock: Clock; timeZone: string; events: DomainEvents },
  entry: NewLedgerEntry,
): Promise<boolean> {
  let created = true;
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
  await deps.events.publish('ledger.recorded', {
    entryId: entry._id,
    kind: entry.kind,
    memberId: entry.memberId ? String(entry.memberId) : undefined,
    amount: entry.amount,
    currency: entry.currency,
    occurredAt: entry.occurredAt,
    reverses: entry.reverses,
  });
  return created;
}

/** What has been refunded of one charge so far (a positive number). */
export async function refundedSoFar(db: Connection, chargeId: string): Promise<number> {
  const refunds = await ledgerModel(db).find({ chargeId, kind: 'refund' }).select({ amount: 1 }).lean();
  return -refunds.reduce((sum, r) => sum + r.amount, 0);
}
