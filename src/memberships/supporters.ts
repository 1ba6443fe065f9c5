import type { Connection } from 'mongoose';
import { claimOnce } from '../infra/claims.js';
import { isDuplicateKey } from '../infra/db.js';
import { membershipModels, type SupporterTotal } from './membership.model.js';

// "All thanks to 12,000 supporters": the number of active members, shown beside every campaign's
// progress. Counting active members decodes every member on FerretDB (about a second at 10,000), so
// a read never counts: it reads a stored total by `_id`. The total is kept up to date instead:
// - counted before a process answers (prepareSupportersTotal, at start-up and after a demo seed),
//   and at the end of every import (src/imports/);
// - every write of a member notes a change (membership.model.ts); the next read after a change
//   starts one recount in the background, at most one per RECOUNT_WINDOW_MS across processes;
// - recounted anyway when older than REFRESH_MS, for writes that bypass the models.
// Until it has been counted once the total is unknown (undefined), never 0: the embeds then leave
// the line out. The campaign count, which must be exact, is a tally (campaign.service.ts).

const REFRESH_MS = 5 * 60_000;
const RECOUNT_WINDOW_MS = 15_000;

const totals = (db: Connection) => membershipModels(db).SupporterTotal;
const readStored = (db: Connection) => totals(db).findById('active').lean<SupporterTotal>();

/** Counts the active members now and stores the total. A change noted meanwhile stays pending. */
export async function recountSupporters(db: Connection, now: Date): Promise<number> {
  const before = await readStored(db);
  const count = await membershipModels(db).Member.countDocuments({ status: 'active' });
  const store = (upsert: boolean) =>
    totals(db).updateOne(
      { _id: 'active' },
      { $set: { count, countedAt: now, countedChange: before?.changeId ?? null } },
      { upsert },
    );
  // Two processes starting at once both count: the loser of the race to create the document
  // updates it instead (an upsert is not atomic on FerretDB, nor always on MongoDB).
  await store(true).catch((error) => (isDuplicateKey(error) ? store(false) : Promise.reject(error)));
  return count;
}

type Counted = SupporterTotal & { count: number; countedAt: Date };
const isCounted = (stored: SupporterTotal | null): stored is Counted =>
  stored !== null && typeof stored.count === 'number' && stored.countedAt instanceof Date;

function isOutOfDate(stored: SupporterTotal | null, now: Date): boolean {
  if (!isCounted(stored)) return true;
  if ((stored.changeId ?? null) !== (stored.countedChange ?? null)) return true;
  return now.getTime() - stored.countedAt.getTime() > REFRESH_MS;
}

/** One recount per window however many processes and reads ask; a failed one is retried next window. */
function recountSoon(db: Connection, now: Date): void {
  const window = Math.floor(now.getTime() / RECOUNT_WINDOW_MS);
  void claimOnce(db, `supporters-recount:${window}`, now)
    .then((mine) => (mine ? recountSupporters(db, now) : undefined))
    .catch(() => {});
}

/**
 * The supporters total as stored, or undefined while it has never been counted. Never counts on the
 * caller's time, except that a database with no member at all is known to have none.
 */
export async function supportersTotal(db: Connection, now: Date): Promise<number | undefined> {
  const stored = await readStored(db);
  if (!isCounted(stored) && (await membershipModels(db).Member.estimatedDocumentCount()) === 0) {
    return recountSupporters(db, now);
  }
  if (isOutOfDate(stored, now)) recountSoon(db, now);
  return isCounted(stored) ? stored.count : undefined;
}

/** Before a process answers: counts the total if it was never counted or is out of date. */
export async function prepareSupportersTotal(db: Connection, now: Date): Promise<number> {
  const stored = await readStored(db);
  return isCounted(stored) && !isOutOfDate(stored, now) ? stored.count : recountSupporters(db, now);
}
