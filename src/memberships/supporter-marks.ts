import { randomUUID } from 'node:crypto';
import { type Connection, Schema } from 'mongoose';
import { insertUnique, mapLimit } from '../infra/bulk.js';
import { isDuplicateKey } from '../infra/db.js';
import { denseEnd, tallyAdd, tallyAddMany, tallyCount } from '../infra/tally.js';

// The supporters total, maintained instead of counted (README, "The supporters total"). Each time
// a member becomes active or stops being active is a numbered transition, `<memberId>#1, #2, …`:
// odd ones in, even ones out. A transition is claimed by inserting its `_id`, so two writers that
// see the same change claim the same number, and each is one mark in the `supporters:in` or
// `supporters:out` tally. The total is in − out: a few primary-key probes at any size.
//
// Imported by membership.model.ts, whose hooks call reconcileSupporter after every write of a
// member; it reaches members by model name, never by importing that file.

export interface SupporterTransition {
  _id: string; // `<memberId>#<n>`
  at: Date;
  /** Set once its tally mark is written; until then the next reconcile writes it (idempotent). */
  counted?: boolean;
  /** Claimed with others (an import's): counted once its batch's document exists. */
  batch?: string;
}

const transitionSchema = new Schema<SupporterTransition>(
  { _id: String, at: { type: Date, required: true }, counted: Boolean, batch: String },
  { versionKey: false },
);

/** Written once every transition claimed in the batch has its mark. */
interface SupporterBatch {
  _id: string;
  at: Date;
}

const batchSchema = new Schema<SupporterBatch>(
  { _id: String, at: { type: Date, required: true } },
  { versionKey: false },
);

export function registerSupporterTransitions(db: Connection): void {
  if (!db.models.SupporterTransition)
    db.model('SupporterTransition', transitionSchema, 'supporter_transitions');
  if (!db.models.SupporterBatch) db.model('SupporterBatch', batchSchema, 'supporter_batches');
}

export const SUPPORTERS_IN = 'supporters:in';
export const SUPPORTERS_OUT = 'supporters:out';

const transitions = (db: Connection) => db.model<SupporterTransition>('SupporterTransition');
const batches = (db: Connection) => db.model<SupporterBatch>('SupporterBatch');
const transitionId = (memberId: string, n: number) => `${memberId}#${n}`;
const tallyOf = (n: number) => (n % 2 === 1 ? SUPPORTERS_IN : SUPPORTERS_OUT);

/** The member's latest transition: its number (0: never active) and whether it is counted. */
async function latest(db: Connection, memberId: string): Promise<{ n: number; counted: boolean }> {
  const seen = new Map<number, SupporterTransition>();
  const n = await denseEnd(async (k) => {
    const found = await transitions(db).findById(transitionId(memberId, k)).lean<SupporterTransition>();
    if (found) seen.set(k, found);
    return found !== null;
  }, 0);
  const last = seen.get(n);
  const counted =
    n === 0 || last?.counted === true || (last?.batch !== undefined && (await batchCounted(db, last.batch)));
  return { n, counted };
}

/** Batches known counted, per database: a batch once counted stays counted. */
const countedBatches = new WeakMap<Connection, Set<string>>();
async function batchCounted(db: Connection, batch: string): Promise<boolean> {
  const known = countedBatches.get(db) ?? new Set<string>();
  countedBatches.set(db, known);
  if (known.has(batch)) return true;
  if (!(await batches(db).exists({ _id: batch }))) return false;
  known.add(batch);
  return true;
}

async function count(db: Connection, memberId: string, n: number, at: Date): Promise<void> {
  await tallyAdd(db, tallyOf(n), transitionId(memberId, n), at);
  await transitions(db).updateOne({ _id: transitionId(memberId, n) }, { $set: { counted: true } });
}

/**
 * Rounds before giving up on a member whose status keeps moving. Each round past the first means
 * another write of this member landed meanwhile, so the bound is only against a runaway; giving up
 * throws, because the last claim of a round is unchecked until the next round reads the member.
 */
const MAX_ROUNDS = 64;

const statusOf = async (db: Connection, memberId: string) =>
  (await db.model('Member').findById(memberId).select({ status: 1 }).lean<{ status?: string }>())?.status;

/**
 * Brings one member's transitions in line with its status: after every write of the member, and in
 * a pass over all of them. Safe to run concurrently and again: a transition is claimed once, and
 * after each move the member is read again, so among reconciles that race, the last to read sees
 * the last status. `status`: the member's status as the caller just read it, saving a read.
 */
export async function reconcileSupporter(
  db: Connection,
  memberId: string,
  at: Date,
  status?: string,
): Promise<void> {
  let active = (status ?? (await statusOf(db, memberId))) === 'active';
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const { n, counted } = await latest(db, memberId);
    // Only the latest can be uncounted: whoever claims n + 1 has made sure n is counted.
    if (!counted) await count(db, memberId, n, at);
    if ((n % 2 === 1) === active) return;
    try {
      await transitions(db).create({ _id: transitionId(memberId, n + 1), at });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // else another writer moved first: look again
      active = (await statusOf(db, memberId)) === 'active';
      continue;
    }
    await count(db, memberId, n + 1, at);
    // Moved: done if the member still says so. A racing reconcile that moves past us checks too.
    active = (await statusOf(db, memberId)) === 'active';
    if ((n % 2 === 0) === active) return;
  }
  // The caller's write fails (Stripe retries it; the audit repairs the total meanwhile).
  throw new Error(`supporter transitions of ${memberId} still moving after ${MAX_ROUNDS} rounds`);
}

/** First transitions claimed together: which of the ids were claimed now, and how to count them. */
export interface FirstTransitions {
  claimed: Set<number>;
  count(): Promise<void>;
}

/**
 * Claims the first transition, uncounted, of each of many members (an import's active ones), as
 * one batch. Claimed before the members are visible, a write that moves one of them once it is
 * visible finds its transition and reconciles from there, so nobody reads the members again.
 * `count()` then writes their marks in bulk and the batch's document, which counts every one of
 * them at once; a crash before it leaves transitions the next reconcile or the audit counts
 * (README, "The supporters total").
 */
export async function claimFirstTransitions(
  db: Connection,
  ids: string[],
  at: Date,
): Promise<FirstTransitions> {
  const batch = randomUUID();
  const claimed = await insertUnique(
    transitions(db).collection,
    ids.map((id) => ({ _id: transitionId(id, 1), at, batch })),
  );
  const mine = ids.filter((_, k) => claimed.has(k)).map((id) => transitionId(id, 1));
  return {
    claimed,
    async count() {
      if (mine.length === 0) return;
      await tallyAddMany(db, SUPPORTERS_IN, mine, at);
      await batches(db).create({ _id: batch, at });
    },
  };
}

/**
 * Members found active with no transition at all, already visible (a first start on a database
 * that had members): counted in batches, then each read again, because a write that moved one
 * before its first transition existed found nothing to reconcile.
 */
async function reconcileVisibleNewSupporters(db: Connection, ids: string[], at: Date): Promise<void> {
  await (await claimFirstTransitions(db, ids, at)).count();
  await mapLimit(ids, 8, async (id) => {
    if ((await statusOf(db, id)) !== 'active') await reconcileSupporter(db, id, at);
  });
}

/** Active members as the tallies have them: in − out. */
export async function talliedSupporters(db: Connection): Promise<number> {
  const [inCount, outCount] = await Promise.all([
    tallyCount(db, SUPPORTERS_IN),
    tallyCount(db, SUPPORTERS_OUT),
  ]);
  return inCount - outCount;
}

/**
 * Reconciles every member whose transitions do not match its status, and every member that has
 * transitions but is gone (tests delete members; the program never does). Two streamed reads find
 * them: for a first start on a database, and the daily audit. Returns the total after, the active
 * members the read found, and how many members were behind.
 */
export async function reconcileAllSupporters(
  db: Connection,
  at: Date,
): Promise<{ total: number; active: number; behind: number }> {
  const active = new Map<string, boolean>();
  for await (const member of db
    .model('Member')
    .find({}, { status: 1 })
    .lean<{ _id: unknown; status: string }>()
    .cursor())
    active.set(String(member._id), member.status === 'active');
  const counted = new Set<string>();
  for await (const batch of batches(db).find({}, { _id: 1 }).lean<SupporterBatch>().cursor())
    counted.add(batch._id);
  const latestOf = new Map<string, { n: number; counted: boolean }>();
  for await (const transition of transitions(db).find({}).lean<SupporterTransition>().cursor()) {
    const [memberId, number] = transition._id.split('#');
    const n = Number(number);
    if (n > (latestOf.get(memberId!)?.n ?? 0))
      latestOf.set(memberId!, {
        n,
        counted:
          transition.counted === true || (transition.batch !== undefined && counted.has(transition.batch)),
      });
  }
  const behind = [...new Set([...active.keys(), ...latestOf.keys()])].filter((id) => {
    const { n, counted } = latestOf.get(id) ?? { n: 0, counted: true };
    return !counted || (n % 2 === 1) !== (active.get(id) ?? false);
  });
  // Active members with no transition at all (a first start on a database that had members) are
  // counted in batches, as an import's are; the rest one by one.
  const fresh = new Set(behind.filter((id) => !latestOf.has(id) && active.get(id)));
  await reconcileVisibleNewSupporters(db, [...fresh], at);
  await mapLimit(
    behind.filter((id) => !fresh.has(id)),
    8,
    (id) => reconcileSupporter(db, id, at),
  );
  const activeNow = [...active.values()].filter(Boolean).length;
  return { total: await talliedSupporters(db), active: activeNow, behind: behind.length };
}
