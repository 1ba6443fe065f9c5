import type { Connection } from 'mongoose';
import type { Clock } from '../../infra/clock.js';
import { insertUnlessPresent } from '../../infra/db.js';
import type { Logger } from '../../infra/logger.js';
import { type Campaign, campaignModels } from '../campaign.model.js';
import { checkpointsOf } from './checkpoint.service.js';
import {
  type Cosignature,
  cosignatureId,
  cosignatureModel,
  verifyCosignature,
  type Witness,
} from './cosignature.js';
import type { Checkpoint } from './log.model.js';
import { loadLog } from './tree-cache.js';

// The log side of c2sp.org/tlog-witness: each campaign's newest checkpoint is posted to every
// configured witness (`add-checkpoint`: the size the witness last cosigned, a consistency proof from
// it, the signed note) until the witness answers its cosignature, which is stored and appended to
// the published note. A periodic task on the one job runner does it every minute, so a witness that
// is down or refuses is simply tried again with the then-newest checkpoint: a witness only ever
// cares about the newest, so a queue of per-checkpoint jobs would mostly hold stale work.

export interface WitnessDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  witnesses: Witness[];
  /** Longest wait for one witness answer. */
  timeoutMs?: number;
}

const DAY = 86_400_000;
/** Campaigns ended longer ago than this are no longer submitted (their log stopped growing). */
const AFTER_END_MS = 365 * DAY;
/** How many earlier checkpoints are looked at for the size a witness last cosigned. */
const LOOK_BACK = 16;

/** The size `witness` last cosigned for this log, as far as we stored it: a hint, a 409 corrects it. */
async function lastCosignedSize(db: Connection, latest: Checkpoint, witness: Witness): Promise<number> {
  const model = cosignatureModel(db);
  for (let sequence = latest.sequence - 1; sequence >= Math.max(0, latest.sequence - LOOK_BACK); sequence--) {
    const found = await model.findById(cosignatureId(`${latest.campaignId}#${sequence}`, witness)).lean();
    if (found) return found.treeSize;
  }
  return 0;
}

/** The add-checkpoint body: the old size line, the proof lines, a blank line, the signed checkpoint. */
async function requestBody(db: Connection, latest: Checkpoint, old: number): Promise<string> {
  const proof =
    old > 0 && old < latest.treeSize
      ? (await loadLog(db, latest.campaignId, latest.treeSize)).tree.consistencyProof(old, latest.treeSize)
      : [];
  return `old ${old}\n${proof.map((hash) => `${hash.toString('base64')}\n`).join('')}\n${latest.note}`;
}

/**
 * Gets `witness`'s cosignature of `latest` and stores it: true when stored now. A 409 (the witness
 * last cosigned another size) is answered once more from the size it names; anything else throws.
 */
export async function submitCheckpoint(
  deps: WitnessDeps,
  witness: Witness,
  latest: Checkpoint,
): Promise<boolean> {
  const model = cosignatureModel(deps.db);
  if (await model.exists({ _id: cosignatureId(latest._id, witness) })) return false;
  let old = await lastCosignedSize(deps.db, latest, witness);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (old > latest.treeSize)
      throw new Error(
        `witness ${witness.name} cosigned ${old} entries of this log, more than its newest checkpoint has (${latest.treeSize}): a rollback?`,
      );
    const response = await fetch(`${witness.url}/add-checkpoint`, {
      method: 'POST',
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        'user-agent': 'membership-drive-witness-client/1',
      },
      body: await requestBody(deps.db, latest, old),
      signal: AbortSignal.timeout(deps.timeoutMs ?? 10_000),
      redirect: 'error',
    });
    const text = (await response.text()).slice(0, 4096);
    if (response.status === 409 && response.headers.get('content-type')?.startsWith('text/x.tlog.size')) {
      const size = /^(0|[1-9]\d*)\n$/.exec(text);
      if (!size) throw new Error(`witness ${witness.name} answered 409 without a size`);
      old = Number(size[1]);
      continue;
    }
    if (response.status !== 200)
      throw new Error(`witness ${witness.name} answered ${response.status}: ${text.trim().slice(0, 200)}`);
    const signedText = latest.note.slice(0, latest.note.lastIndexOf('\n\n') + 1);
    // Lines of other keys are ignored (tlog-witness): only this witness's valid one is kept.
    for (const line of text.split('\n')) {
      const time = verifyCosignature(witness, signedText, line);
      if (!time) continue;
      const cosignature: Cosignature = {
        _id: cosignatureId(latest._id, witness),
        campaignId: latest.campaignId,
        sequence: latest.sequence,
        treeSize: latest.treeSize,
        witness: witness.vkey,
        line,
        time,
      };
      await insertUnlessPresent(model.collection, cosignature);
      return true;
    }
    throw new Error(`witness ${witness.name} answered no valid cosignature`);
  }
  throw new Error(`witness ${witness.name} kept answering 409`);
}

/** The periodic task: every campaign's newest checkpoint to every witness that has not cosigned it. */
export async function submitToWitnesses(deps: WitnessDeps): Promise<number> {
  if (deps.witnesses.length === 0) return 0;
  const now = deps.clock.now();
  const campaigns = await campaignModels(deps.db)
    .Campaign.find({ startsAt: { $lte: now }, endsAt: { $gt: new Date(now.getTime() - AFTER_END_MS) } })
    .select({ _id: 1, slug: 1 })
    .lean<Pick<Campaign, '_id' | 'slug'>[]>();
  let stored = 0;
  // A witness that cannot be reached is not tried again this round: each try could wait a timeout.
  const unreachable = new Set<Witness>();
  for (const campaign of campaigns) {
    const latest = (await checkpointsOf(deps.db, String(campaign._id))).at(-1);
    if (!latest) continue;
    for (const witness of deps.witnesses) {
      if (unreachable.has(witness)) continue;
      try {
        if (await submitCheckpoint(deps, witness, latest)) stored++;
      } catch (error) {
        if (error instanceof TypeError || (error as Error).name === 'TimeoutError') unreachable.add(witness);
        // Tried again next minute. A 422 means the witness holds a cosigned tree this log does not
        // extend: someone was shown another history, or the log went back (a restore).
        deps.logger.warn(
          { campaign: campaign.slug, sequence: latest.sequence, witness: witness.name, err: error },
          'drive checkpoint not cosigned',
        );
      }
    }
  }
  return stored;
}

/** Cosignature lines never change: each process keeps those it found. */
const found = new WeakMap<Connection, Map<string, string>>();

/** The checkpoint's note as published: the stored note with each configured witness's cosignature. */
export async function cosignedNote(
  db: Connection,
  checkpoint: Checkpoint,
  witnesses: Witness[],
): Promise<string> {
  const known = found.get(db) ?? new Map<string, string>();
  found.set(db, known);
  const lines: string[] = [];
  for (const witness of witnesses) {
    const id = cosignatureId(checkpoint._id, witness);
    const line = known.get(id) ?? (await cosignatureModel(db).findById(id).lean())?.line;
    if (!line) continue;
    known.set(id, line);
    lines.push(line);
  }
  return lines.length === 0 ? checkpoint.note : `${checkpoint.note}${lines.join('\n')}\n`;
}
