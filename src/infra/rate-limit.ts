import type { Connection } from 'mongoose';
import { claimOnce } from './claims.js';

// Where each key's next free slot probably is, so a busy key costs one insert, not one per
// request already counted. Only a hint: another process may have taken it, and then we move on.
const nextSlotHint = new Map<string, number>();

/**
 * A fixed-window limit that holds across processes: each allowed request claims one of `limit`
 * numbered slots for the window (an atomic unique insert, see claims.ts); when every slot is
 * taken, the request is refused. Returns whether this request may proceed.
 */
export async function takeSlot(
  db: Connection,
  key: string,
  limit: number,
  windowMs: number,
  now: Date,
): Promise<boolean> {
  const window = `${key}:${Math.floor(now.getTime() / windowMs)}`;
  if (nextSlotHint.size > 10_000) nextSlotHint.clear();
  for (let slot = nextSlotHint.get(window) ?? 0; slot < limit; slot++) {
    if (await claimOnce(db, `rate:${window}:${slot}`, now)) {
      nextSlotHint.set(window, slot + 1);
      return true;
    }
  }
  nextSlotHint.set(window, limit);
  return false;
}
