import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Clock } from '../../infra/clock.js';
import { isDuplicateKey } from '../../infra/db.js';
import type { Logger } from '../../infra/logger.js';
import { type Campaign, campaignModels } from '../campaign.model.js';
import { type Checkpoint, type LogLeaf, leafId, transparencyModels } from './log.model.js';
import { ensureStartingOffset, logSize, writeAliases } from './log.service.js';
import { logOrigin, originOf } from './origin.js';
import type { CheckpointSigner } from './signing.js';
import { loadLog } from './tree-cache.js';

export { logOrigin, originOf };

// Signed checkpoints: at least hourly while a campaign runs, when the log has grown (at most every
// DRIVE_CHECKPOINT_MINUTES), and as soon as a milestone is reached, the service states the log's size,
// root and count, signs it, and names the checkpoint before it. Checkpoint n is the unique `_id`
// `<campaign>#n`, so two processes can never publish two different checkpoints n: the chain forks
// nowhere. Signing runs as a periodic task on the one job runner (src/background.ts).
//
// A checkpoint is a C2SP tlog-checkpoint in a C2SP signed note (ADR 0014): origin, tree size and
// base64 root, which any transparency-log tool reads, then extension lines with what the count needs.

export interface TransparencyDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  signer: CheckpointSigner;
  checkpointMs: number;
  /** How long after its end a campaign's log is still checkpointed when it grows (default 180 days). */
  afterEndMs?: number;
  /** PUBLIC_BASE_URL: its host names the logs. */
  publicBaseUrl: string;
}

const HOUR = 3_600_000;
/**
 * Ended campaigns still get a checkpoint when late refunds and disputes change their log, for this
 * long by default (DRIVE_CHECKPOINT_AFTER_END_DAYS): card disputes arrive up to 120 days after a
 * payment, and a revocation no checkpoint ever covers would be a promise broken.
 */
export const AFTER_END_MS = 180 * 24 * HOUR;
/** The first extension line: what the lines after it mean (bin/drive-verify-core.mjs reads them). */
export const CHECKPOINT_FORMAT = 'membership-drive checkpoint v2';

/** The signed text; the same format bin/drive-verify-core.mjs `checkpointText` writes and reads. */
export function checkpointText(fields: {
  origin: string;
  treeSize: number;
  /** The RFC 6962 root hash. */
  root: Buffer;
  campaign: string;
  campaignEnds: Date;
  sequence: number;
  additions: number;
  revocations: number;
  offset: number;
  count: number;
  time: Date;
  previous: string | null;
}): string {
  return `${[
    fields.origin,
    String(fields.treeSize),
    fields.root.toString('base64'),
    CHECKPOINT_FORMAT,
    `campaign: ${fields.campaign}`,
    `campaign_ends: ${fields.campaignEnds.toISOString()}`,
    `sequence: ${fields.sequence}`,
    `additions: ${fields.additions}`,
    `revocations: ${fields.revocations}`,
    `offset_claimed: ${fields.offset}`,
    `count: ${fields.count}`,
    `time: ${fields.time.toISOString()}`,
    `previous: ${fields.previous ?? 'none'}`,
  ].join('\n')}\n`;
}

/** SHA-256 of a signed note's text (everything before the blank line): what `previous` names. */
export function noteTextHash(note: string): string {
  return createHash('sha256')
    .update(note.slice(0, note.lastIndexOf('\n\n') + 1))
    .digest('hex');
}

/** Checkpoints never change: each process keeps those it has read and probes for the next. */
const known = new WeakMap<Connection, Map<string, Checkpoint[]>>();

export async function checkpointsOf(db: Connection, campaignId: string): Promise<Checkpoint[]> {
  const perDb = known.get(db) ?? new Map<string, Checkpoint[]>();
  known.set(db, perDb);
  let list = perDb.get(campaignId) ?? [];
  if (list.length > 0 && !(await transparencyModels(db).Checkpoint.exists({ _id: `${campaignId}#0` })))
    list = []; // emptied (tests, a restored backup)
  for (;;) {
    const next = await transparencyModels(db)
      .Checkpoint.findById(`${campaignId}#${list.length}`)
      .lean<Checkpoint>();
    if (!next) break;
    list = [...list, next];
  }
  perDb.set(campaignId, list);
  return list;
}

/** Forgets the checkpoints this process has read (tests that tamper with stored ones). */
export function forgetCheckpoints(db: Connection): void {
  known.delete(db);
}

function crossedMilestone(campaign: Campaign, before: number, after: number): boolean {
  return campaign.milestones.some(
    (percent) => before * 100 < campaign.goal * percent && after * 100 >= campaign.goal * percent,
  );
}

/**
 * Signs and stores the campaign's next checkpoint if one is due (or `force`): answers it, or null
 * when none was due or another process stored checkpoint n first.
 */
export async function signCheckpoint(
  deps: TransparencyDeps,
  campaign: Campaign,
  options: { force?: boolean } = {},
): Promise<Checkpoint | null> {
  const { db } = deps;
  const campaignId = String(campaign._id);
  const now = deps.clock.now();
  const previous = (await checkpointsOf(db, campaignId)).at(-1);
  await ensureStartingOffset(db, campaign, now);
  const size = await logSize(db, campaignId);
  const log = await loadLog(db, campaignId, size);
  const additions = log.additions[size]!;
  const revocations = log.revocations[size]!;
  // The offset is the leaves' too (ADR 0003): what `offset_claimed` states, a verifier recomputes.
  const offset = log.offsets[size]!;
  const count = offset + additions - revocations;
  if (!options.force && previous) {
    const age = now.getTime() - previous.time.getTime();
    const running = campaign.startsAt <= now && now < campaign.endsAt;
    const changed = size !== previous.treeSize || count !== previous.count;
    const due =
      (running && age >= HOUR) ||
      (changed && age >= deps.checkpointMs) ||
      (changed && crossedMilestone(campaign, previous.count, count));
    if (!due) return null;
  }
  // A crash between a leaf and its aliases is repaired here, before the leaf can be asked about.
  const from = previous?.treeSize ?? 0;
  const fresh: LogLeaf[] = [];
  for (let index = from; index < size; index++) {
    const leaf = await transparencyModels(db).Leaf.findById(leafId(campaignId, index)).lean<LogLeaf>();
    if (leaf) fresh.push(leaf);
  }
  await writeAliases(db, fresh);

  const sequence = previous ? previous.sequence + 1 : 0;
  const time = previous && previous.time > now ? previous.time : now;
  const origin = previous ? originOf(previous) : logOrigin(deps.publicBaseUrl, campaign.slug);
  const text = checkpointText({
    origin,
    treeSize: size,
    root: log.tree.root(size),
    campaign: campaignId,
    campaignEnds: campaign.endsAt,
    sequence,
    additions,
    revocations,
    offset,
    count,
    time,
    previous: previous?.hash ?? null,
  });
  const note = deps.signer.signNote(text, origin);
  const checkpoint: Checkpoint = {
    _id: `${campaignId}#${sequence}`,
    campaignId,
    sequence,
    note,
    kid: deps.signer.kid,
    hash: noteTextHash(note),
    treeSize: size,
    count,
    offset,
    offsetFromLeaves: true,
    time,
  };
  try {
    await transparencyModels(db).Checkpoint.create(checkpoint);
  } catch (error) {
    if (isDuplicateKey(error)) return null; // another process signed checkpoint `sequence`
    throw error;
  }
  deps.logger.info({ campaign: campaign.slug, sequence, treeSize: size, count }, 'drive checkpoint signed');
  return checkpoint;
}

/** The periodic task: every running (or lately ended) campaign that is due gets its checkpoint. */
export async function signDueCheckpoints(deps: TransparencyDeps): Promise<number> {
  const now = deps.clock.now();
  const campaigns = await campaignModels(deps.db)
    .Campaign.find({
      startsAt: { $lte: now },
      endsAt: { $gt: new Date(now.getTime() - (deps.afterEndMs ?? AFTER_END_MS)) },
    })
    .lean<Campaign[]>();
  let signed = 0;
  for (const campaign of campaigns) if (await signCheckpoint(deps, campaign)) signed++;
  return signed;
}

/**
 * Checkpoints signed before ADR 0014 (a body and a signature, no note) move to
 * `drive_checkpoints_v1`, kept for anyone auditing what was published then; the next run signs
 * checkpoint 0 of each log over all its leaves, which are unchanged.
 */
export async function archiveUnnotedCheckpoints(db: Connection): Promise<number> {
  const current = db.collection('drive_checkpoints');
  const archive = db.collection('drive_checkpoints_v1');
  let moved = 0;
  for await (const old of current.find({ note: { $exists: false } })) {
    // Copy, then delete: a crash between the two leaves a copy the re-run skips.
    await archive
      .insertOne(old)
      .catch((error) => (isDuplicateKey(error) ? undefined : Promise.reject(error)));
    await current.deleteOne({ _id: old._id });
    moved++;
  }
  return moved;
}
