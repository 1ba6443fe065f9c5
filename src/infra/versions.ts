import type { Connection, Model } from 'mongoose';
import { decideOnce } from './claims.js';

// Records that people edit from forms carry a `version`: a save made from an older version is
// refused with the record as it is now, so no save overwrites a change its author never saw.
// Campaigns and webhook endpoints use this; the rule is in src/infra/README.md ("Versions").

/** A record edited by people: `version` is missing on records saved before versions (read as 0). */
export interface VersionedRecord {
  _id: unknown;
  version?: number;
}

/** What a save writes: paths to set (`counts.gifts` names a nested field) and paths to remove. */
export interface VersionChange {
  set: Record<string, unknown>;
  unset?: string[];
}

export type SaveOutcome<T> =
  | { outcome: 'saved'; record: T }
  | { outcome: 'conflict'; current: T }
  | { outcome: 'busy' };

export interface VersionedTarget<T extends VersionedRecord> {
  db: Connection;
  /** The record's collection; written by `_id` only. */
  model: Model<T>;
  /** The claim's name: claims are `<prefix>:<record id>:<version>`. */
  prefix: string;
  /** The record as it is now (throws when there is none). */
  load: () => Promise<T>;
  now: () => Date;
}

/** A winner that died between its claim and its write is finished by the next saver after this. */
export const ABANDONED_EDIT_MS = 30_000;

/** How a claim records a write: a stored key may not hold a dot (`counts.gifts`), nor FerretDB nest arrays. */
type Decision = Array<{ path: string; value?: unknown; unset?: true }>;

const asUpdate = (decision: Decision) => {
  const $set: Record<string, unknown> = {};
  const $unset: Record<string, 1> = {};
  for (const d of decision) {
    if (d.unset) $unset[d.path] = 1;
    else $set[d.path] = d.value;
  }
  return Object.keys($unset).length ? { $set, $unset } : { $set };
};

/**
 * Every change of the record is one version: the saver that claims `<prefix>:<id>:<version>` (an
 * insert of a unique _id, atomic on FerretDB too, where a conditional update is not) writes the
 * next version; a save from a version someone already claimed gets `conflict` with the record as
 * it is now. Without `expected` (an API client that sends no version, a change that applies to
 * whatever is current) the change is made on the current version, retrying when it loses a race,
 * and `busy` after five lost races. The claim records the winner's write, so a winner that crashed
 * before writing it is finished by a later saver. `change` may throw to refuse (it sees `before`).
 */
export async function saveVersion<T extends VersionedRecord>(
  target: VersionedTarget<T>,
  expected: number | undefined,
  change: (before: T) => VersionChange,
): Promise<SaveOutcome<T>> {
  const { db, model } = target;
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await target.load();
    const version = before.version ?? 0;
    if (expected !== undefined && expected !== version) return { outcome: 'conflict', current: before };
    const { set, unset = [] } = change(before);
    if (Object.keys(set).length === 0 && unset.length === 0) return { outcome: 'saved', record: before };
    const now = target.now();
    const decision: Decision = [
      ...Object.entries({ ...set, version: version + 1 }).map(([path, value]) => ({ path, value })),
      ...unset.map((path) => ({ path, unset: true as const })),
    ];
    const claim = await decideOnce(db, `${target.prefix}:${String(before._id)}:${version}`, now, decision);
    if (claim.won) {
      await model.updateOne({ _id: before._id } as never, asUpdate(decision) as never);
      return { outcome: 'saved', record: applied(before, decision) };
    }
    const decided = (claim.decision ?? []) as Decision;
    if (now.getTime() - claim.decidedAt.getTime() > ABANDONED_EDIT_MS) {
      const still = await model.findById(before._id).lean<T>();
      if ((still?.version ?? 0) === version)
        await model.updateOne({ _id: before._id } as never, asUpdate(decided) as never);
    }
    // The winner may not have written yet: its decided change is the record as it is now.
    if (expected !== undefined) return { outcome: 'conflict', current: applied(before, decided) };
    await new Promise((resolve) => setTimeout(resolve, 20 * (attempt + 1)));
  }
  return { outcome: 'busy' };
}

/** The record after a decided write (paths such as `counts.gifts` change one nested field). */
function applied<T>(before: T, decision: Decision): T {
  const after = { ...before } as Record<string, unknown>;
  for (const { path, value, unset } of decision) {
    const [head, key] = path.split('.') as [string, string | undefined];
    if (key) after[head] = { ...(after[head] as object) };
    const target = (key ? after[head] : after) as Record<string, unknown>;
    const field = key ?? head;
    if (unset) delete target[field];
    else target[field] = value;
  }
  return after as T;
}
