import type { Connection } from 'mongoose';
import { claimOnce } from './claims.js';

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
  const window = Math.floor(now.getTime() / windowMs);
  for (let slot = 0; slot < limit; slot++) {
    if (await claimOnce(db, `rate:${key}:${window}:${slot}`, now)) return true;
  }
  return false;
}
