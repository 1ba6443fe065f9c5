import type { Connection, Types } from 'mongoose';
import { checkpointsOf } from './checkpoint.service.js';
import { type LogLeaf, leafId, transparencyModels } from './log.model.js';
import { ensureStartingOffset, logOffset, logSize, staffHash } from './log.service.js';
import { loadLog } from './tree-cache.js';

// The count as the log states it: the sum of the offset leaves + additions − revocations, so what
// readers see is what a verifier recomputes from the leaves (ADR 0003). Read without scanning: it
// starts from the latest signed checkpoint (its count was computed from the leaves it covers) and
// adds the leaves appended since, each read once per process by primary key.

export interface SignedHead {
  sequence: number;
  size: number;
  /** The RFC 6962 root, base64, as in the note. */
  root: string;
  count: number;
  time: string;
}

export interface LogCount {
  /** The log's count now, every leaf included. */
  count: number;
  /** Leaves in the log now. */
  size: number;
  /** The latest signed checkpoint, or null before the first. */
  checkpoint: SignedHead | null;
}

const running = new WeakMap<Connection, Map<string, { size: number; count: number }>>();

/** Forgets the running counts this process keeps (tests that tamper with stored leaves). */
export function forgetCounts(db: Connection): void {
  running.delete(db);
}

const changeOf = (leaf: LogLeaf) =>
  leaf.kind === 'add' ? 1 : leaf.kind === 'revoke' ? -1 : (leaf.amount ?? 0);

export async function logCount(
  db: Connection,
  campaign: { _id: Types.ObjectId | string; startingOffset: number },
): Promise<LogCount> {
  const campaignId = String(campaign._id);
  await ensureStartingOffset(db, campaign);
  const [checkpoints, size] = await Promise.all([checkpointsOf(db, campaignId), logSize(db, campaignId)]);
  const latest = checkpoints.at(-1);
  const perDb = running.get(db) ?? new Map<string, { size: number; count: number }>();
  running.set(db, perDb);
  const memo = perDb.get(campaignId);
  let from = 0;
  let count = 0;
  if (memo && memo.size <= size && memo.size >= (latest?.treeSize ?? 0)) ({ size: from, count } = memo);
  else if (latest && latest.treeSize <= size) {
    from = latest.treeSize;
    // Checkpoints from before offsets were leaves counted the stored offset beside their leaves.
    count = latest.offsetFromLeaves ? latest.count : latest.count - latest.offset;
  }
  const { Leaf } = transparencyModels(db);
  for (let index = from; index < size; index++) {
    const leaf = await Leaf.findById(leafId(campaignId, index)).lean<LogLeaf>();
    if (!leaf) throw new Error(`drive log ${campaignId} has no leaf ${index}`);
    count += changeOf(leaf);
  }
  perDb.set(campaignId, { size, count });
  return {
    count,
    size,
    checkpoint: latest
      ? {
          sequence: latest.sequence,
          size: latest.treeSize,
          root: latest.note.split('\n')[2]!,
          count: latest.count,
          time: latest.time.toISOString(),
        }
      : null,
  };
}

/**
 * Moves the campaign's offset to `target` by appending an offset leaf with the difference (none when
 * it is there already): who (`staffId`, published hashed) and why are part of the leaf. Offset
 * changes are rare staff actions, so this reads the whole log (cached per process).
 */
export async function logOffsetChange(
  db: Connection,
  campaign: { _id: Types.ObjectId | string; startingOffset: number },
  target: number,
  change: { staffId: string; reason: string },
  at: Date = new Date(),
): Promise<void> {
  const campaignId = String(campaign._id);
  await ensureStartingOffset(db, campaign, at);
  // Two writers may race for one change number; the loser reads the log again and tries the next.
  for (let attempt = 0; attempt < 10; attempt++) {
    const size = await logSize(db, campaignId);
    const log = await loadLog(db, campaignId, size);
    const current = log.offsets[size]!;
    if (current === target) return;
    await logOffset(
      db,
      campaignId,
      log.offsetChanges[size]!,
      { amount: target - current, staff: staffHash(campaignId, change.staffId), reason: change.reason },
      at,
    );
  }
  throw new Error(`the offset of campaign ${campaignId} could not be logged`);
}

/** A new campaign's offset leaf 0: its starting offset, who set it and why. */
export async function logStartingOffset(
  db: Connection,
  campaign: { _id: Types.ObjectId | string; startingOffset: number },
  change: { staffId: string; reason: string },
  at: Date = new Date(),
): Promise<void> {
  const campaignId = String(campaign._id);
  await logOffset(
    db,
    campaignId,
    0,
    { amount: campaign.startingOffset, staff: staffHash(campaignId, change.staffId), reason: change.reason },
    at,
  );
}
