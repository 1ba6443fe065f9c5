import type { Connection } from 'mongoose';
import { claimOnce } from './claims.js';

// The store half of the one rate limiter (the HTTP half, 429 and Retry-After, is src/http/rate-limit.ts).
// The one rate limiter of the app. A limit must hold however many processes serve the traffic,
// so it lives in the database, built on the one primitive that is atomic on every backend we
// run on: an insert with a unique _id (see claims.ts). No $inc (FerretDB loses concurrent ones).

// Where each key's next free slot probably is, so a busy key costs one insert, not one per
// request already counted. Only a hint: another process may have taken it, and then we move on.
// Kept per database: a hint from another database's slots (a test's previous database) would
// refuse requests that database never counted.
const hints = new WeakMap<Connection, Map<string, number>>();

/** Prefix of the slot documents' _id in the claims collection. */
export const RATE_SLOT_PREFIX = 'rate:';

/**
 * A fixed-window limit that holds across processes: each allowed request claims one of `limit`
 * numbered slots for the window (an atomic unique insert); when every slot is taken, the request
 * is refused. Returns whether this request may proceed.
 */
export async function takeSlot(
  db: Connection,
  key: string,
  limit: number,
  windowMs: number,
  now: Date,
): Promise<boolean> {
  const window = `${key}:${Math.floor(now.getTime() / windowMs)}`;
  const nextSlotHint = hints.get(db) ?? new Map<string, number>();
  hints.set(db, nextSlotHint);
  if (nextSlotHint.size > 10_000) nextSlotHint.clear();
  let slot = nextSlotHint.get(window) ?? 0;
  while (slot < limit) {
    // Moved on before the insert is sent, so this process's concurrent requests try different slots
    // instead of all but one losing the same slot and paying another round trip. A slot whose
    // insert fails for another reason stays unused: the limit errs on the strict side.
    nextSlotHint.set(window, slot + 1);
    if (await claimOnce(db, `${RATE_SLOT_PREFIX}${window}:${slot}`, now)) return true;
    slot = Math.max(slot + 1, nextSlotHint.get(window) ?? 0);
  }
  return false;
}
