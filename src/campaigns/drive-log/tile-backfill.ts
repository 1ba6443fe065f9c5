import type { Connection } from 'mongoose';
import { campaignModels } from '../campaign.model.js';
import { checkpointsOf } from './checkpoint.service.js';
import { signedTreeOf } from './proofs.js';
import { writeTiles } from './tile-store.js';
import { loadLog } from './tree-cache.js';

/**
 * The `drive-log-tiles` migration: logs signed before tiles get them, up to their latest
 * checkpoint (full tiles and that size's partial ones), from their leaves. A log whose leaves do not
 * give its signed root is left without: proofs then come from the leaves, as before. Answers how
 * many tiles were written.
 */
export async function backfillTiles(db: Connection): Promise<number> {
  let written = 0;
  const campaigns = await campaignModels(db).Campaign.find({}, { _id: 1 }).lean();
  for (const campaign of campaigns) {
    const campaignId = String(campaign._id);
    const latest = (await checkpointsOf(db, campaignId)).at(-1);
    if (!latest) continue;
    const signed = signedTreeOf(latest.note);
    const log = await loadLog(db, campaignId, signed.size);
    if (!log.tree.root(signed.size).equals(signed.root)) continue;
    written += await writeTiles(db, campaignId, log.tree, 0, signed.size);
  }
  return written;
}
