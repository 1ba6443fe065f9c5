import type { Connection, Types } from 'mongoose';
import { checkpointsOf } from './checkpoint.service.js';
import { ensureStartingOffset, logOffset, logSize, staffHash, totalBefore } from './log.service.js';
import { countSince } from './log-tail.js';
import { loadLog } from './tree-cache.js';

// The count as the log states it: the sum of the offset leaves + additions − revocations, so what
// readers see is what a verifier recomputes from the leaves (ADR 0003). Read without scanning: the
// latest checkpoint's signed count plus the leaves after it, each read by primary key once per
// process (log-tail.ts); the running total a leaf carries (log.service.ts `totalBefore`) only before
// a log's first checkpoint, since a database writer could edit it.

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

export async function logCount(
  db: Connection,
  campaign: { _id: Types.ObjectId | string; startingOffset: number },
): Promise<LogCount> {
  const campaignId = String(campaign._id);
  await ensureStartingOffset(db, campaign);
  const [checkpoints, size] = await Promise.all([checkpointsOf(db, campaignId), logSize(db, campaignId)]);
  const latest = checkpoints.at(-1);
  // From the signed checkpoint and the leaves after it; a stored running total only before any.
  const count =
    (latest ? await countSince(db, campaignId, latest, size) : undefined) ??
    (await totalBefore(db, campaignId, size));
  if (count === undefined) throw new Error(`drive log ${campaignId} has no leaf ${size - 1}`);
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
