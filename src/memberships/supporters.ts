import type { Connection } from 'mongoose';
import { claimOnce } from '../infra/claims.js';
import { membershipModels, type SupporterTotal } from './membership.model.js';

// "All thanks to 12,000 supporters": the number of active members, shown beside every campaign's
// progress. Counting active members decodes every member on FerretDB (about a second at 10,000), so
// the total is a stored snapshot read by `_id`, recounted in the background by one process at a
// time when it is older than REFRESH_MS. It may lag by that much; the campaign count, which must be
// exact, is a tally (campaign.service.ts).

const REFRESH_MS = 5 * 60_000;

const totals = (db: Connection) => membershipModels(db).SupporterTotal;

async function recount(db: Connection, now: Date): Promise<number> {
  const count = await membershipModels(db).Member.countDocuments({ status: 'active' });
  await totals(db).updateOne({ _id: 'active' }, { $set: { count, countedAt: now } }, { upsert: true });
  return count;
}

/** The supporters total: the stored snapshot, recounted in the background when it is old. */
export async function supportersTotal(db: Connection, now: Date): Promise<number> {
  const stored = await totals(db).findById('active').lean<SupporterTotal>();
  if (!stored) return recount(db, now); // the first time only
  if (now.getTime() - stored.countedAt.getTime() > REFRESH_MS) {
    const window = Math.floor(now.getTime() / REFRESH_MS);
    void claimOnce(db, `supporters-recount:${window}`, now)
      .then((mine) => (mine ? recount(db, now) : undefined))
      // A recount that fails leaves the old snapshot; the next period's claim tries again.
      .catch(() => {});
  }
  return stored.count;
}
