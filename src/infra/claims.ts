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

/**
 * Claims are taken on every rate-limited request and every sign-up: inserted through the driver,
 * not as mongoose documents, whose casting and validation cost more CPU than the insert itself
 * (the fields are ours, not the reader's).
 */
const claims = (db: Connection) => db.model<Claim>('Claim').collection;

/** True for exactly one caller per key, however many race. */
export async function claimOnce(db: Connection, key: string, now: Date): Promise<boolean> {
  try {
    await claims(db).insertOne({ _id: key, claimedAt: now } as never);
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/** Whether the claim `key` was ever taken (and not yet swept). */
export async function hasClaim(db: Connection, key: string): Promise<boolean> {
  return (await db.model<Claim>('Claim').exists({ _id: key })) !== null;
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
    // A document, not a driver insert: a decision's undefined fields must be left out, not stored as null.
    await db.model<Claim>('Claim').create({ _id: key, claimedAt: now, decision });
    return { won: true, decision, decidedAt: now };
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const held = await db.model<Claim>('Claim').findById(key).lean<Claim>();
  if (!held) throw new Error(`claim ${key} vanished while it was contended`);
  return { won: false, decision: held.decision as T | undefined, decidedAt: held.claimedAt };
}

/** What was decided under `key` (decideOnce), without deciding: null while nobody has. */
export async function decisionOf<T>(
  db: Connection,
  key: string,
): Promise<{ decision: T; decidedAt: Date } | null> {
  const held = await db.model<Claim>('Claim').findById(key).lean<Claim>();
  return held ? { decision: held.decision as T, decidedAt: held.claimedAt } : null;
}

// Old claims are swept by the retention sweep (src/retention/retention.service.ts), by prefix.
