import { type Connection, Schema } from 'mongoose';
import { isDuplicateKey } from './db.js';

// "Exactly one caller wins" that holds on every backend we run on. On MongoDB a conditional
// findOneAndUpdate is atomic, but FerretDB 1.x applies updates as read-then-write outside a
// transaction: two concurrent conditional updates can both match, and concurrent $inc lose counts.
// An insert into a unique index is atomic everywhere, so contended decisions are made by
// inserting a claim whose _id names the decision; the one insert that succeeds owns it.

interface Claim {
  _id: string;
  claimedAt: Date;
  /** What the winner decided (decideOnce), so a loser or a retry can finish the same decision. */
  decision?: unknown;
}

const claimSchema = new Schema<Claim>(
  {
    _id: String,
    claimedAt: { type: Date, required: true, index: true },
    decision: Schema.Types.Mixed,
  },
  {
    versionKey: false,
  },
);

export function registerClaimModel(db: Connection): void {
  if (!db.models.Claim) db.model('Claim', claimSchema, 'claims');
}

/** True for exactly one caller per key, however many race. */
export async function claimOnce(db: Connection, key: string, now: Date): Promise<boolean> {
  try {
    await db.model<Claim>('Claim').create({ _id: key, claimedAt: now });
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/**
 * One decision per key, recorded in the claim itself: the first caller's `decision` holds and every
 * caller learns it (`decision` is undefined only for a claim taken by claimOnce, which records none).
 * Whoever finds a decision whose follow-up writes are unfinished can finish them, so a crash after
 * the claim loses nothing.
 */
export async function decideOnce<T>(
  db: Connection,
  key: string,
  now: Date,
  decision: T,
): Promise<{ won: boolean; decision: T | undefined; decidedAt: Date }> {
  try {
    await db.model<Claim>('Claim').create({ _id: key, claimedAt: now, decision });
    return { won: true, decision, decidedAt: now };
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const held = await db.model<Claim>('Claim').findById(key).lean<Claim>();
  if (!held) throw new Error(`claim ${key} vanished while it was contended`);
  return { won: false, decision: held.decision as T | undefined, decidedAt: held.claimedAt };
}

/** Whether anyone has taken `key` (by claimOnce or decideOnce). */
export async function claimTaken(db: Connection, key: string): Promise<boolean> {
  return (await db.model<Claim>('Claim').exists({ _id: key })) !== null;
}

/** Claims only matter while their decision is contended; old ones are swept, not kept forever. */
export async function sweepClaims(db: Connection, olderThan: Date, prefix: string): Promise<number> {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const result = await db
    .model<Claim>('Claim')
    .deleteMany({ _id: { $regex: `^${escaped}` }, claimedAt: { $lt: olderThan } });
  return result.deletedCount;
}
