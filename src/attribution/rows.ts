import type { Connection } from 'mongoose';
import { isDuplicateKey } from '../infra/db.js';
import { readSlots } from '../infra/slots.js';
import { type AttributionRow, attributionModels } from './attribution.model.js';

// The dense run of rows per campaign and day (attribution.model.ts): appended with a unique `_id`
// (the one atomic primitive on FerretDB), deduplicated by the unique `record`.

/** Rows without a campaign (a button with no data-campaign) are kept under this key. */
export const NO_CAMPAIGN = '-';
const runKey = (campaign: string, day: string) => `${campaign}|${day}`;

/** The next free position this process has seen per run: only a hint, probed forward from. */
const hints = new WeakMap<Connection, Map<string, number>>();

export async function appendRow(
  db: Connection,
  campaign: string,
  day: string,
  row: Omit<AttributionRow, '_id'>,
): Promise<void> {
  const { AttributionRow: rows } = attributionModels(db);
  const key = runKey(campaign, day);
  const perDb = hints.get(db) ?? new Map<string, number>();
  hints.set(db, perDb);
  let n = perDb.get(key) ?? 0;
  // A hint past the end (an emptied collection in tests) starts again from 0.
  if (n > 0 && !(await rows.exists({ _id: `${key}#${n - 1}` }))) n = 0;
  for (; ; n++) {
    try {
      await rows.create({ ...row, _id: `${key}#${n}` });
      perDb.set(key, n + 1);
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const taken = await rows.findById(`${key}#${n}`).lean<AttributionRow>();
      // Position n is free, so the unique record index refused it: this fact is recorded already.
      if (!taken || taken.record === row.record) return;
    }
  }
}

export function readRows(db: Connection, campaign: string, day: string): Promise<AttributionRow[]> {
  return readSlots(attributionModels(db).AttributionRow, runKey(campaign, day));
}
