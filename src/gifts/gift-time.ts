import type { Types } from 'mongoose';
import { appendSlot, readSlots } from '../infra/slots.js';
import { setGiftTimeEnd } from '../memberships/gift-membership.js';
import { addMonths } from '../shared/time.js';
import { type GiftGrant, giftGrantModel } from './gift.model.js';
import type { GiftDeps } from './gift-deps.js';

// A member's gift time is derived, never adjusted in place: redemptions append grants and refunds
// append revokes (gift.model.ts, GiftGrant), and the member's end is recomputed from the whole list.
// "Add 12 months to what I read" loses months when two redemptions race and cannot take back one
// gift among several; a fold over immutable records does neither.

/** The end of the gift time the list grants, or undefined when no gift is left. */
export function giftTimeEnd(items: GiftGrant[]): Date | undefined {
  const revoked = new Set(items.filter((i) => i.kind === 'revoke').map((i) => i.giftId));
  const counted = new Set<string>(); // two racing appends of one grant may both land
  let end: Date | undefined;
  for (const item of items) {
    if (item.kind !== 'grant' || revoked.has(item.giftId) || counted.has(item.giftId)) continue;
    counted.add(item.giftId);
    const from = end ?? items[0]!.base;
    end = addMonths(new Date(Math.max(from.getTime(), item.at.getTime())), item.months);
  }
  return end;
}

export const giftTimeOf = (deps: Pick<GiftDeps, 'db'>, memberId: Types.ObjectId) =>
  readSlots(giftGrantModel(deps.db), String(memberId));

/** Appends a grant or revoke once (a retried finish finds it there). */
export async function recordGiftTime(
  deps: Pick<GiftDeps, 'db'>,
  memberId: Types.ObjectId,
  item: Omit<GiftGrant, '_id'>,
): Promise<void> {
  await appendSlot(
    giftGrantModel(deps.db),
    String(memberId),
    item,
    (stored) => stored.giftId === item.giftId && stored.kind === item.kind,
  );
}

/**
 * Writes the member's status and end from their gift time (memberships writes them). A member
 * with a paid subscription is left to it. Converges under races: each writer re-reads the list after its write and writes again
 * if it grew, so the last write always reflects every grant appended before it.
 */
export async function settleGiftTime(
  deps: Pick<GiftDeps, 'db' | 'clock'>,
  memberId: Types.ObjectId,
  at: Date,
): Promise<void> {
  for (let seen = -1; ; ) {
    const items = await giftTimeOf(deps, memberId);
    if (items.length === seen) return;
    seen = items.length;
    if (!(await setGiftTimeEnd(deps, memberId, giftTimeEnd(items), at))) return;
  }
}
