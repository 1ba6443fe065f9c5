import type { Connection } from 'mongoose';
import { type Clock, systemClock } from '../../infra/clock.js';
import { campaignModels } from '../campaign.model.js';

import { type LogLeaf, transparencyModels } from './log.model.js';
import { leafHash } from './merkle.js';
import { logOrigin, originOf } from './origin.js';
import type { CheckpointSigner } from './signing.js';

// A leaf's signed promise, as Certificate Transparency's SCT is a certificate's: when a leaf is
// appended, the service signs (with the log's note key, as a C2SP signed note under the log's origin)
// that leaf n of this campaign's log is this leaf hash and will be in a checkpoint by `merge_by`.
// It is stored beside the leaf, served with it, and is the member's proof of having been logged.
// A verifier refuses a leaf without a valid promise, so writing a leaf into the database without
// the key is not enough to have it counted (bin/drive-verify-core.mjs).

export const PROMISE_FORMAT = 'membership-drive promise v1';
/** The longest a promised leaf may wait for a checkpoint (checkpoints come at least hourly). */
export const MAX_MERGE_DELAY_MS = 24 * 3_600_000;

interface LeafSigner {
  signer: CheckpointSigner;
  publicBaseUrl: string;
  clock: Clock;
}

const signers = new WeakMap<Connection, LeafSigner>();

/**
 * Lets this process sign promises for the leaves it appends to logs on `db`: set where the keys are
 * known (src/bootstrap.ts at start, the campaigns capability with the process's clock).
 */
export function useLeafSigner(
  db: Connection,
  options: { signer: CheckpointSigner; publicBaseUrl: string; clock?: Clock },
): void {
  signers.set(db, { clock: systemClock, ...options });
}

/** The signed text of a promise; bin/drive-verify-core.mjs `parsePromiseText` reads it. */
export function promiseText(fields: {
  origin: string;
  campaign: string;
  index: number;
  leafHash: Buffer;
  time: Date;
  mergeBy: Date;
}): string {
  return `${[
    PROMISE_FORMAT,
    `origin: ${fields.origin}`,
    `campaign: ${fields.campaign}`,
    `index: ${fields.index}`,
    `leaf: ${fields.leafHash.toString('hex')}`,
    `time: ${fields.time.toISOString()}`,
    `merge_by: ${fields.mergeBy.toISOString()}`,
  ].join('\n')}\n`;
}

const origins = new WeakMap<Connection, Map<string, string>>();

/** The log's origin: its first checkpoint's (a campaign keeps it), else the one it will get. */
async function originOfLog(
  db: Connection,
  campaignId: string,
  publicBaseUrl: string,
): Promise<string | undefined> {
  const perDb = origins.get(db) ?? new Map<string, string>();
  origins.set(db, perDb);
  const known = perDb.get(campaignId);
  if (known) return known;
  const first = await transparencyModels(db).Checkpoint.findById(`${campaignId}#0`).lean();
  if (first) {
    perDb.set(campaignId, originOf(first));
    return originOf(first);
  }
  const campaign = await campaignModels(db).Campaign.findById(campaignId).select({ slug: 1 }).lean();
  return campaign ? logOrigin(publicBaseUrl, campaign.slug) : undefined;
}

/**
 * Signs the promise for leaf `index` whose hashed text is `leafData`, or answers undefined when this
 * process holds no key for `db` (the leaf then has none, and a verifier refuses it).
 */
export async function promiseFor(
  db: Connection,
  campaignId: string,
  index: number,
  leafData: string,
): Promise<string | undefined> {
  const leafSigner = signers.get(db);
  if (!leafSigner) return undefined;
  const origin = await originOfLog(db, campaignId, leafSigner.publicBaseUrl);
  if (!origin) return undefined; // a log of no campaign (deleted): nothing to verify it against
  const time = leafSigner.clock.now();
  const text = promiseText({
    origin,
    campaign: campaignId,
    index,
    leafHash: leafHash(leafData),
    time,
    mergeBy: new Date(time.getTime() + MAX_MERGE_DELAY_MS),
  });
  return leafSigner.signer.signNote(text, origin);
}

/**
 * Leaves appended before promises existed get one, once per database (src/migrations.ts): they are
 * covered by checkpoints the same key signed, or are about to be.
 */
export async function backfillPromises(
  db: Connection,
  leafDataOf: (leaf: LogLeaf) => string,
): Promise<number> {
  if (!signers.has(db)) throw new Error('no drive log signing key to promise existing leaves with');
  const { Leaf } = transparencyModels(db);
  let done = 0;
  for await (const leaf of Leaf.find({ promise: { $exists: false } })
    .lean<LogLeaf[]>()
    .cursor()) {
    const promise = await promiseFor(db, leaf.campaignId, leaf.index, leafDataOf(leaf));
    if (promise === undefined) continue;
    await Leaf.updateOne({ _id: leaf._id, promise: { $exists: false } }, { $set: { promise } });
    done++;
  }
  return done;
}
