import type { Connection } from 'mongoose';
import { claimOnce } from '../infra/claims.js';
import type { Logger } from '../infra/logger.js';
import { membershipModels, type SupporterTotal } from './membership.model.js';
import { reconcileAllSupporters, talliedSupporters } from './supporter-marks.js';

// "All thanks to 12,000 supporters": the number of active members, shown beside every campaign's
// progress. Counting them decodes every member on FerretDB (40 s at 100,000), so the total is
// maintained: every write of a member reconciles its transitions (supporter-marks.ts), and a read
// is two tallies' probes. The stored document only says whether every member has been through a
// reconcile once (a first start on an existing database); until then the total is unknown, never
// 0, and the embeds leave the line out. README, "The supporters total".

const PASS_WINDOW_MS = 60_000;

const totals = (db: Connection) => membershipModels(db).SupporterTotal;
const readStored = (db: Connection) => totals(db).findById('active').lean<SupporterTotal>();

/** Every member reconciled, then noted as done: the total is known from then on. */
export async function reconcileEverySupporter(db: Connection, now: Date): Promise<number> {
  return (await passOverEverySupporter(db, now)).total;
}

async function passOverEverySupporter(db: Connection, now: Date) {
  const pass = await reconcileAllSupporters(db, now);
  await totals(db).updateOne({ _id: 'active' }, { $set: { passedAt: now } }, { upsert: true });
  return pass;
}

/** One pass per window however many processes and reads ask; a failed one is asked again. */
function passSoon(db: Connection, now: Date): void {
  const window = Math.floor(now.getTime() / PASS_WINDOW_MS);
  void claimOnce(db, `supporters-pass:${window}`, now)
    .then((mine) => (mine ? reconcileEverySupporter(db, now) : undefined))
    .catch(() => {});
}

/** The supporters total, or undefined until every member has been reconciled once. */
export async function supportersTotal(db: Connection, now: Date): Promise<number | undefined> {
  const stored = await readStored(db);
  if (stored?.passedAt) return talliedSupporters(db);
  // A database with no member at all is known to have none.
  if ((await membershipModels(db).Member.estimatedDocumentCount()) === 0)
    return reconcileEverySupporter(db, now);
  passSoon(db, now);
  return undefined;
}

/** Before a process answers: the first start on a database reconciles every member once. */
export async function prepareSupportersTotal(db: Connection, now: Date): Promise<number> {
  const stored = await readStored(db);
  return stored?.passedAt ? talliedSupporters(db) : reconcileEverySupporter(db, now);
}

/**
 * The daily check: a pass over every member (two streamed reads), which compares each member's
 * status with its transitions. A member written by a process that died before its reconcile, or by
 * a write around the models, shows here, even when two such errors cancel out in the total; any
 * found is logged and repaired.
 */
export async function auditSupporters(db: Connection, now: Date, logger: Logger): Promise<void> {
  const tallied = await talliedSupporters(db);
  const pass = await passOverEverySupporter(db, now);
  if (pass.behind === 0 && pass.active === tallied) return;
  logger.warn(
    { counted: pass.active, tallied, behind: pass.behind },
    'supporters total differed from the members; reconciling the members behind',
  );
}
