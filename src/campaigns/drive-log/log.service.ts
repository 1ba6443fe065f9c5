import { createHash, randomBytes } from 'node:crypto';
import type { Connection, Types } from 'mongoose';
import { isDuplicateKey } from '../../infra/db.js';
import { campaignModels } from '../campaign.model.js';
import {
  commitmentAlias,
  type LogLeaf,
  leafId,
  recordAlias,
  recordKey,
  transparencyModels,
} from './log.model.js';
import { promiseFor } from './promises.js';

// Appending to a campaign's drive log, exactly once per record, on any backend and under any
// concurrency: a leaf's position is taken by inserting its unique `_id` (`<campaign>#<n>`, the one
// atomic primitive everywhere; the loser moves on to n + 1), and its record is unique too, so a
// record logged twice — a redelivered event, two processes, a retry after a crash — is one leaf.
// The run stays dense (a position is only tried after the one before it is seen filled), which is
// what lets checkpoints read it by primary key.

export type LeafKind = LogLeaf['kind'];

/** The public face of a leaf: nothing personal, nothing that links it to a member. */
export interface PublicLeaf {
  index: number;
  kind: LeafKind;
  commitment: string;
  revokes?: number;
  /** The log's signed promise that this is leaf `index` (promises.ts); absent on unpromised leaves. */
  promise?: string;
  /** Offset leaves: the change, SHA-256 of the staff id (`staffHash`), the public reason. */
  amount?: number;
  staff?: string;
  reason?: string;
}

/** Same formula as bin/drive-verify-core.mjs `commitmentOf`. */
export function commitmentOf(campaignId: string, kind: LeafKind, recordId: string, salt: string): string {
  return createHash('sha256')
    .update(`membership-drive receipt v1|${kind}|${campaignId}|${recordId}|${salt}`)
    .digest('hex');
}

/** Who changed an offset, as published: a hash, so the log holds no staff member's id or name. */
export function staffHash(campaignId: string, staffId: string): string {
  return createHash('sha256').update(`membership-drive staff v1|${campaignId}|${staffId}`).digest('hex');
}

/**
 * What a leaf says, as hashed (bin/drive-verify-core.mjs `leafDataOf`): `add <commitment>`,
 * `revoke <commitment> <index>` or `offset <commitment> <amount> <staff> <reason as JSON>`.
 */
export const leafDataOf = (
  leaf: Pick<PublicLeaf, 'kind' | 'commitment' | 'revokes' | 'amount' | 'staff' | 'reason'>,
) =>
  leaf.kind === 'add'
    ? `add ${leaf.commitment}`
    : leaf.kind === 'revoke'
      ? `revoke ${leaf.commitment} ${leaf.revokes}`
      : `offset ${leaf.commitment} ${leaf.amount} ${leaf.staff} ${JSON.stringify(leaf.reason)}`;

/** The public leaf; offset leaves also carry `data`, the exact text hashed (opaque to other tools). */
export const publicLeaf = (leaf: LogLeaf): PublicLeaf & { data?: string } => {
  const { index, kind, commitment } = leaf;
  const promise = leaf.promise === undefined ? {} : { promise: leaf.promise };
  if (kind === 'add') return { index, kind, commitment, ...promise };
  if (kind === 'revoke') return { index, kind, commitment, revokes: leaf.revokes, ...promise };
  const visible = { index, kind, commitment, amount: leaf.amount, staff: leaf.staff, reason: leaf.reason };
  return { ...visible, data: leafDataOf(visible), ...promise };
};

/** The highest size this process has seen, per database and campaign: only a hint. */
const seen = new WeakMap<Connection, Map<string, number>>();
function hints(db: Connection): Map<string, number> {
  const map = seen.get(db) ?? new Map<string, number>();
  seen.set(db, map);
  return map;
}

async function hasLeaf(db: Connection, campaignId: string, size: number): Promise<boolean> {
  return (
    size === 0 || (await transparencyModels(db).Leaf.exists({ _id: leafId(campaignId, size - 1) })) !== null
  );
}

/** How many leaves the log holds: the end of the dense run, by primary-key probes from the hint. */
export async function logSize(db: Connection, campaignId: string): Promise<number> {
  let low = hints(db).get(campaignId) ?? 0;
  if (!(await hasLeaf(db, campaignId, low))) low = 0; // emptied (tests, a restored backup)
  let step = 1;
  let high = low + 1;
  while (await hasLeaf(db, campaignId, high)) {
    low = high;
    high = low + step;
    step *= 2;
  }
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (await hasLeaf(db, campaignId, middle)) low = middle;
    else high = middle;
  }
  hints(db).set(campaignId, low);
  return low;
}

/** Appends within one process wait for each other per log (racing for one position helps no one). */
const queues = new WeakMap<Connection, Map<string, Promise<unknown>>>();
function inLine<T>(db: Connection, key: string, work: () => Promise<T>): Promise<T> {
  const perDb = queues.get(db) ?? new Map<string, Promise<unknown>>();
  queues.set(db, perDb);
  const turn = (perDb.get(key) ?? Promise.resolve()).then(work);
  const settled = turn.catch(() => {});
  perDb.set(key, settled);
  void settled.then(() => {
    if (perDb.get(key) === settled) perDb.delete(key);
  });
  return turn;
}

/** Writes the primary-key ways to a leaf; those that exist already are left as they are. */
export async function writeAliases(db: Connection, leaves: LogLeaf[]): Promise<void> {
  if (leaves.length === 0) return;
  const docs = leaves.flatMap((leaf) => [
    { _id: recordAlias(leaf.record), index: leaf.index },
    { _id: commitmentAlias(leaf.campaignId, leaf.commitment), index: leaf.index },
  ]);
  try {
    await transparencyModels(db).Alias.insertMany(docs, { ordered: false });
  } catch (error) {
    const errors = (error as { writeErrors?: unknown[] }).writeErrors;
    if (!isDuplicateKey(error) && !errors?.every(isDuplicateKey)) throw error;
  }
}

/** The index of `record`'s leaf, if it has one. */
async function indexOfRecord(db: Connection, record: string): Promise<number | undefined> {
  const { Alias, Leaf } = transparencyModels(db);
  const alias = await Alias.findById(recordAlias(record)).lean();
  if (alias) return alias.index;
  // Its aliases are written just after the leaf; only a crash in between (or a duplicate racing the
  // first) gets here, and finding the leaf by its record once repairs them.
  const leaf = await Leaf.findOne({ record }).lean<LogLeaf>();
  if (!leaf) return undefined;
  await writeAliases(db, [leaf]);
  return leaf.index;
}

/** How a leaf moves the count: an addition one up, a revocation one down, an offset by its amount. */
export const changeOf = (leaf: Pick<LogLeaf, 'kind' | 'amount'>) =>
  leaf.kind === 'add' ? 1 : leaf.kind === 'revoke' ? -1 : (leaf.amount ?? 0);

/**
 * The count over the log's first `size` leaves: the `total` leaf `size - 1` carries, or, for leaves
 * logged before totals, their changes summed back to the nearest leaf with one. Undefined when leaf
 * `size - 1` does not exist.
 */
export async function totalBefore(
  db: Connection,
  campaignId: string,
  size: number,
): Promise<number | undefined> {
  const { Leaf } = transparencyModels(db);
  let sum = 0;
  for (let index = size - 1; index >= 0; index--) {
    const leaf = await Leaf.findById(leafId(campaignId, index)).lean<LogLeaf>();
    if (!leaf) {
      if (index === size - 1) return undefined;
      throw new Error(`drive log ${campaignId} has no leaf ${index}`);
    }
    if (leaf.total !== undefined) return leaf.total + sum;
    sum += changeOf(leaf);
  }
  return sum;
}

async function appendLeaf(
  db: Connection,
  campaignId: string,
  kind: LeafKind,
  recordId: string,
  at: Date,
  revokes?: number,
  fresh = false,
  offset?: { amount: number; staff: string; reason: string },
): Promise<number> {
  // The offset leaf comes first in a log, so every checkpoint's offset is its leaves' (log-count.ts).
  if (kind !== 'offset') await ensureStartingOffset(db, { _id: campaignId }, at);
  const record = recordKey(campaignId, kind, recordId);
  // A record logged before is answered by one lookup; a fresh one skips it (a racing duplicate is
  // still refused by the unique record below).
  const lookUp = async () =>
    fresh ? undefined : (await transparencyModels(db).Alias.findById(recordAlias(record)).lean())?.index;
  const known = await lookUp();
  if (known !== undefined) return known;
  return inLine(db, campaignId, async () => {
    // A duplicate that waited here behind the first delivery of its record finds it done.
    const logged = await lookUp();
    if (logged !== undefined) return logged;
    const salt = randomBytes(32).toString('hex');
    const commitment = commitmentOf(campaignId, kind, recordId, salt);
    // The hint is a position right after one seen filled, so starting there keeps the run dense; a
    // stale hint only costs a refused insert. Without one, the end is searched once.
    let index = hints(db).get(campaignId) ?? (await logSize(db, campaignId));
    for (;;) {
      const fields = {
        kind,
        commitment,
        ...(kind === 'revoke' ? { revokes } : {}),
        ...(kind === 'offset' ? offset : {}),
      };
      const before = await totalBefore(db, campaignId, index);
      if (before === undefined) {
        index = await logSize(db, campaignId); // the log was emptied under the hint (tests, a restore)
        continue;
      }
      // Signed for this position before the insert, so a leaf and its promise are one write.
      const promise = await promiseFor(db, campaignId, index, leafDataOf(fields));
      const leaf: LogLeaf = {
        _id: leafId(campaignId, index),
        campaignId,
        index,
        record,
        recordId,
        salt,
        ...fields,
        ...(promise === undefined ? {} : { promise }),
        total: before + changeOf(fields),
        at,
      };
      try {
        await transparencyModels(db).Leaf.create(leaf);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        const taken = await transparencyModels(db).Leaf.findById(leaf._id).lean<LogLeaf>();
        if (taken && taken.record !== record) {
          hints(db).set(campaignId, index + 1);
          index++;
          continue; // another record took this position: try the next
        }
        // This record is logged already (here, or at another position the unique record refused).
        const existing = await indexOfRecord(db, record);
        if (existing === undefined) throw new Error(`leaf for ${record} refused but not found`);
        return existing;
      }
      hints(db).set(campaignId, index + 1);
      await writeAliases(db, [leaf]);
      return index;
    }
  });
}

const idOf = (campaignId: Types.ObjectId | string) => String(campaignId);

/**
 * A contribution counted toward a campaign becomes an `add` leaf, once. Answers its index. `fresh`:
 * the caller has just written the contribution for the first time, so no leaf can exist yet and the
 * lookup for one is skipped (one round trip less on the hot path of every new member).
 */
export function logContribution(
  db: Connection,
  campaignId: Types.ObjectId | string,
  contributionId: string,
  at: Date,
  options: { fresh?: boolean } = {},
): Promise<number> {
  return appendLeaf(db, idOf(campaignId), 'add', contributionId, at, undefined, options.fresh);
}

/**
 * A contribution taken back becomes a `revoke` leaf naming its addition, once. Its addition is
 * logged first if it is not yet (a crash before it was), so a revocation never names nothing.
 */
export async function logRevocation(
  db: Connection,
  campaignId: Types.ObjectId | string,
  contributionId: string,
  at: Date,
): Promise<number> {
  const added = await logContribution(db, campaignId, contributionId, at);
  return appendLeaf(db, idOf(campaignId), 'revoke', contributionId, at, added);
}

/**
 * The offset's change number `change` (0: the starting offset) becomes an `offset` leaf, once per
 * number: two writers racing for one number get one leaf (answers its index either way; the
 * caller checks the sum it wanted). `staff` is `staffHash` of who made it.
 */
export function logOffset(
  db: Connection,
  campaignId: Types.ObjectId | string,
  change: number,
  fields: { amount: number; staff: string; reason: string },
  at: Date,
): Promise<number> {
  return appendLeaf(db, idOf(campaignId), 'offset', `offset:${change}`, at, undefined, false, fields);
}

/** Whether the log holds its offset leaf 0: one primary-key read (a missing alias is repaired by `logOffset`). */
export async function hasStartingOffset(
  db: Connection,
  campaignId: Types.ObjectId | string,
): Promise<boolean> {
  const record = recordKey(idOf(campaignId), 'offset', 'offset:0');
  return (await transparencyModels(db).Alias.exists({ _id: recordAlias(record) })) !== null;
}

/** Per database, the campaigns whose offset leaf 0 this process has seen, or is making sure of. */
const withOffset = new WeakMap<Connection, Map<string, Promise<void>>>();

/**
 * Gives a campaign's log its offset leaf 0, from the stored starting offset, if it has none: the
 * campaign writer appends it at creation (with who and why); this covers campaigns created before
 * offsets were leaves (the migration) or written straight into the database. Once the leaf exists
 * the stored field no longer moves the count: only `logOffsetChange` does, as a new leaf. Asked by
 * every append and count, so one check per campaign and process is shared by everyone waiting on it
 * (a burst of deliveries must not each look for the leaf).
 */
export function ensureStartingOffset(
  db: Connection,
  campaign: { _id: Types.ObjectId | string; startingOffset?: number },
  at: Date = new Date(),
): Promise<void> {
  const campaignId = idOf(campaign._id);
  const known = withOffset.get(db) ?? new Map<string, Promise<void>>();
  withOffset.set(db, known);
  const pending = known.get(campaignId);
  if (pending) return pending;
  const done = (async () => {
    if (await hasStartingOffset(db, campaignId)) return;
    const amount =
      campaign.startingOffset ??
      (await campaignModels(db).Campaign.findById(campaignId).select({ startingOffset: 1 }).lean())
        ?.startingOffset ??
      0;
    await logOffset(
      db,
      campaignId,
      0,
      { amount, staff: staffHash(campaignId, 'system'), reason: 'starting offset' },
      at,
    );
  })();
  known.set(campaignId, done);
  // A failed check is not remembered: the next caller tries again.
  done.catch(() => {
    if (known.get(campaignId) === done) known.delete(campaignId);
  });
  return done;
}

/** A member's receipt for a contribution: record id and salt, which only they (and we) know. */
export async function receiptOf(
  db: Connection,
  campaignId: Types.ObjectId | string,
  contributionId: string,
): Promise<{ receipt: string; index: number; promise?: string } | undefined> {
  const { Alias, Leaf } = transparencyModels(db);
  const alias = await Alias.findById(recordAlias(recordKey(idOf(campaignId), 'add', contributionId))).lean();
  if (!alias) return undefined;
  const leaf = await Leaf.findById(leafId(idOf(campaignId), alias.index)).lean<LogLeaf>();
  return leaf
    ? { receipt: `${leaf.recordId}~${leaf.salt}`, index: leaf.index, promise: leaf.promise }
    : undefined;
}

/**
 * Logs every contribution and revocation stored before the log existed: once per database, at start
 * (src/bootstrap.ts). Idempotent, so processes starting together only repeat lookups.
 */
export async function backfillDriveLog(db: Connection): Promise<number> {
  const { Contribution, Revocation } = campaignModels(db);
  let done = 0;
  const added = Contribution.find().sort({ countedAt: 1 }).select({ campaignId: 1, countedAt: 1 }).lean();
  for await (const c of added.cursor()) {
    await logContribution(db, c.campaignId, c._id, c.countedAt);
    done++;
  }
  const revoked = Revocation.find().sort({ revokedAt: 1 }).select({ campaignId: 1, revokedAt: 1 }).lean();
  for await (const r of revoked.cursor()) {
    await logRevocation(db, r.campaignId, r._id, r.revokedAt);
    done++;
  }
  return done;
}

/**
 * Gives every campaign created before offsets were leaves its offset leaf, from its stored starting
 * offset: once per database, at start (src/migrations.ts). Idempotent, as `ensureStartingOffset` is.
 */
export async function backfillOffsetLeaves(db: Connection): Promise<number> {
  let done = 0;
  const campaigns = campaignModels(db).Campaign.find().select({ startingOffset: 1 }).lean();
  for await (const campaign of campaigns.cursor()) {
    await ensureStartingOffset(db, campaign);
    done++;
  }
  return done;
}
