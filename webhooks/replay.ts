import type { Connection } from 'mongoose';
import { copyGiftsAsBought, copyImportedRecords } from '../src/imports/replay-seed.js';
import { ensureIndexes } from '../src/infra/db.js';
import { dueModel } from '../src/infra/due.js';
import { type LedgerEntry, ledgerModel } from '../src/ledger/ledger.model.js';
import { membershipModels } from '../src/memberships/membership.model.js';
import { NotReadyYet } from '../src/memberships/membership.service.js';
import { DomainEvents } from '../src/shared/domain-events.js';
import { DONE_STATUSES, payloadOf, STRIPE_EVENT_QUEUE, stripeEventModel } from './stripe-event.model.js';
import { handlerFor, STRIPE_EVENT_HANDLERS, type WebhookDeps } from './stripe-handlers.js';

export interface ReplayReport {
  events: number;
  /**
   * Events stored but not applied yet (waiting in the queue): not replayed. One that failed and
   * waits for its retry may have left part of its effect in the live state, shown as a difference.
   */
  queued: number;
  compared: { members: number; subscriptions: number; ledgerEntries: number };
  differences: string[];
}

// What replay compares: the facts, not bookkeeping (ids of our own, timestamps of writes).
const MEMBER_FIELDS = [
  'status',
  'source',
  'joinedAt',
  'joinedVia',
  'stripeCustomerId',
  'currentPeriodEnd',
  'campaign',
] as const;
const SUBSCRIPTION_FIELDS = [
  'status',
  'plan',
  'interval',
  'amount',
  'currency',
  'currentPeriodEnd',
  'cancelAtPeriodEnd',
] as const;
const LEDGER_FIELDS = [
  'kind',
  'amount',
  'currency',
  'occurredAt',
  'day',
  'month',
  'email',
  'reverses',
] as const;

const REFUND_FIELDS = ['amount', 'currency', 'email', 'reverses', 'fullRefund'] as const;

/**
 * The ledger without refund entries, and each charge's refunds as one total. A charge's refund
 * entries are the steps its refunded amount took as deliveries arrived, and Stripe sends partial
 * refunds in any order: replay, applying them in the order Stripe created them, may cut the same
 * total into other steps (1,270 refunded at once live; 1,051 then 219 in replay).
 */
function refundTotals(entries: LedgerEntry[]): [LedgerEntry[], LedgerEntry[]] {
  const rest: LedgerEntry[] = [];
  const totals = new Map<string, LedgerEntry>();
  for (const entry of entries) {
    if (entry.kind !== 'refund' || !entry.chargeId) {
      rest.push(entry);
      continue;
    }
    const total = totals.get(entry.chargeId);
    if (!total) totals.set(entry.chargeId, { ...entry, fullRefund: entry.fullRefund ?? false });
    else {
      total.amount += entry.amount;
      total.fullRefund ||= entry.fullRefund ?? false;
    }
  }
  return [rest, [...totals.values()]];
}

/**
 * Re-applies every stored Stripe event, in the order Stripe created them, to an empty scratch
 * database and reports every way the result differs from the live state. Events that refer to
 * something not yet known are retried after the rest, as Stripe's own retries would.
 */
export async function replayStripeEvents(
  live: Connection,
  deps: Omit<WebhookDeps, 'db' | 'events'>,
  /** Binds every capability's models to the scratch database (src/models.ts, given by the caller). */
  registerModels: (db: Connection) => void,
): Promise<ReplayReport> {
  const scratch = live.useDb(`${live.name}_replay_${Date.now()}`, { useCache: false });
  registerModels(scratch);
  await ensureIndexes(scratch);
  try {
    // The starting point events were applied on.
    await copyImportedRecords(live, scratch);
    await copyGiftsAsBought(live, scratch);

    const events = new DomainEvents();
    const scratchDeps: WebhookDeps = {
      ...deps,
      db: scratch,
      events,
      gifts: { ...deps.gifts, db: scratch, events },
    };
    // The list without payloads (60,000 events at the newsroom's size); each payload is read in turn.
    const all = await stripeEventModel(live)
      .find()
      .select({ object: 0, payload: 0 })
      .sort({ created: 1, receivedAt: 1 })
      .lean();
    // The live state holds only what the queue has applied so far: replay the same.
    const stored = all.filter((event) => DONE_STATUSES.includes(event.status));
    const failed = all.filter((event) => event.status === 'failed');
    let waiting = stored;
    while (waiting.length > 0) {
      const deferred: typeof stored = [];
      for (const event of waiting) {
        const handler = handlerFor(STRIPE_EVENT_HANDLERS, event.type);
        if (!handler) continue;
        const object = await payloadOf(
          live,
          (await stripeEventModel(live).findById(event._id).select({ payload: 1, object: 1 }).lean()) ??
            event,
        );
        try {
          await handler(scratchDeps, {
            id: event._id,
            type: event.type,
            created: event.created,
            object,
          });
        } catch (error) {
          if (!(error instanceof NotReadyYet)) throw error;
          deferred.push(event);
        }
      }
      if (deferred.length === waiting.length) break; // nothing more can be applied
      waiting = deferred;
    }

    // An event given up on is a difference by definition: Stripe says something we never applied.
    const differences: string[] = failed.map(
      (event) =>
        `event ${event._id} (${event.type}) failed for good: ${event.lastError ?? 'no error recorded'}`,
    );
    const [liveMembers, replayMembers] = await Promise.all(
      [live, scratch].map((db) => membershipModels(db).Member.find().lean()),
    );
    const [liveSubs, replaySubs] = await Promise.all(
      [live, scratch].map((db) => membershipModels(db).Subscription.find().lean()),
    );
    const [liveLedger, replayLedger] = await Promise.all(
      [live, scratch].map((db) => ledgerModel(db).find().lean()),
    );
    compare('member', liveMembers!, replayMembers!, (m) => m.email, MEMBER_FIELDS, differences);
    compare('subscription', liveSubs!, replaySubs!, (s) => s._id, SUBSCRIPTION_FIELDS, differences);
    const [liveEntries, liveRefunds] = refundTotals(liveLedger!);
    const [replayEntries, replayRefunds] = refundTotals(replayLedger!);
    compare('ledger entry', liveEntries, replayEntries, (e) => e._id, LEDGER_FIELDS, differences);
    compare('refunds of charge', liveRefunds, replayRefunds, (e) => e.chargeId!, REFUND_FIELDS, differences);
    return {
      events: stored.length,
      queued: all.length - stored.length - failed.length + (await notStoredYet(live, all)),
      compared: {
        members: liveMembers!.length,
        subscriptions: liveSubs!.length,
        ledgerEntries: liveLedger!.length,
      },
      differences,
    };
  } finally {
    await scratch.dropDatabase();
  }
}

function compare<T>(
  label: string,
  current: T[],
  replayed: T[],
  keyOf: (item: T) => string,
  fields: readonly (keyof T)[],
  differences: string[],
): void {
  const replayedByKey = new Map(replayed.map((item) => [keyOf(item), item]));
  for (const item of current) {
    const key = keyOf(item);
    const other = replayedByKey.get(key);
    replayedByKey.delete(key);
    if (!other) {
      differences.push(`${label} ${key}: in the current state, not produced by replay`);
      continue;
    }
    for (const field of fields) {
      const [a, b] = [show(item[field]), show(other[field])];
      if (a !== b) differences.push(`${label} ${key}: ${String(field)} is ${a} now, ${b} after replay`);
    }
  }
  for (const key of replayedByKey.keys())
    differences.push(`${label} ${key}: produced by replay, missing now`);
}

const show = (value: unknown) =>
  value instanceof Date ? value.toISOString() : JSON.stringify(value ?? null);

/** Events received but still only in their due marker: the queue has not stored them yet. */
async function notStoredYet(live: Connection, stored: { _id: string }[]): Promise<number> {
  const ids = new Set(stored.map((event) => event._id));
  const carried = await dueModel(live)
    .find({ queue: STRIPE_EVENT_QUEUE, job: { $exists: true } })
    .select({ jobId: 1 })
    .lean();
  return carried.filter((marker) => !ids.has(String(marker.jobId))).length;
}
