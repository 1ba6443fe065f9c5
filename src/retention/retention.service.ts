import type { Collection, Document, Filter } from 'mongodb';
import type { Connection } from 'mongoose';
import { endSessionsOfAddress, memberSessionModels } from '../accounts/member-session.js';
import { signInTokenModel } from '../accounts/sign-in-token.model.js';
import {
  ADDRESS_DAYS_READ,
  type AddressItem,
  addressRecordModel,
  claimIdOf,
  readAddressLists,
  weekOf,
} from '../email/address-records.js';
import { emailModels } from '../email/email.model.js';
import { mapLimit } from '../infra/bulk.js';
import type { Clock } from '../infra/clock.js';
import { leaseModel } from '../infra/leases.js';
import type { Logger } from '../infra/logger.js';
import { marketingSyncModel } from '../newsletters/marketing-sync.model.js';
import { newsletterModels } from '../newsletters/newsletter.model.js';
import { staffModels } from '../staff/staff.model.js';

// How long each temporary record is kept (the README's "Retention" section lists the same).
// Records the ledger, membership, gifts or audit need (ledger entries, members, gifts, Stripe
// events, suppressions, the audit log, gift delivery and redemption claims) are never swept.

const DAY = 86_400_000;

export interface RetentionPeriods {
  /** Claims that serialize a moment (rate-limit slots, per-address locks, single-use spends). */
  shortClaimsMs: number;
  /** `newsletter-confirmed:<token hash>`: must outlive the confirmation link itself. */
  confirmationClaimsMs: number;
  /** Job leases and periodic-task keys, counted from their expiry. */
  leasesMs: number;
  /** Expired sign-in, confirmation and staff refresh tokens, counted from their expiry. */
  expiredTokensMs: number;
  /** Sent and suppressed email jobs, finished Marketing sync jobs, SendGrid events. */
  finishedJobsMs: number;
  /** Failed email jobs: kept longer, so staff can still re-queue them. */
  failedEmailsMs: number;
}

export const DEFAULT_RETENTION: RetentionPeriods = {
  shortClaimsMs: DAY,
  confirmationClaimsMs: 7 * DAY,
  leasesMs: DAY,
  expiredTokensMs: DAY,
  finishedJobsMs: 30 * DAY,
  failedEmailsMs: 90 * DAY,
};

/** Claims whose decision stops mattering after `shortClaimsMs`. */
const SHORT_CLAIM_PREFIXES = [
  'rate:',
  'sign-in-email:',
  'sign-in-used:',
  'newsletter-confirmation:',
  'staff-refresh:',
  'gift-resend:',
  'gift-abandoned:', // refuses a retry of a checkout that ended unpaid (gifts/gift-purchase.ts)
  'email-job:', // from before the job runner's leases
  'marketing-sync:',
  'supporters-recount:',
];

/** Deletes at most `limit` documents matching `filter` (one scan, then deletes by _id). */
async function deleteBounded(
  model: { collection: Collection },
  filter: Record<string, unknown>,
  limit: number,
) {
  const query = filter as Filter<Document>;
  const found = await model.collection.find(query, { projection: { _id: 1 }, limit }).toArray();
  if (found.length === 0) return 0;
  const result = await model.collection.deleteMany({ _id: { $in: found.map((d) => d._id) } });
  return result.deletedCount;
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The retention sweep, run hourly by the job runner. Each filter is a periodic scan (never on a
 * request path); each deletes at most `limit` documents per run, so a backlog drains over runs.
 */
export async function sweepExpiredRecords(
  deps: { db: Connection; clock: Clock; logger: Logger },
  periods: RetentionPeriods = DEFAULT_RETENTION,
  limit = 5_000,
): Promise<Record<string, number>> {
  const { db } = deps;
  const now = deps.clock.now().getTime();
  const before = (ms: number) => new Date(now - ms);
  const claims = db.model('Claim');
  const email = emailModels(db);
  const newsletters = newsletterModels(db);
  const deleted: Record<string, number> = {
    claims: await deleteBounded(
      claims,
      {
        _id: { $regex: `^(${SHORT_CLAIM_PREFIXES.map(escapeRegex).join('|')})` },
        claimedAt: { $lt: before(periods.shortClaimsMs) },
      },
      limit,
    ),
    confirmationClaims: await deleteBounded(
      claims,
      { _id: { $regex: '^newsletter-confirmed:' }, claimedAt: { $lt: before(periods.confirmationClaimsMs) } },
      limit,
    ),
    leases: await deleteBounded(leaseModel(db), { expiresAt: { $lt: before(periods.leasesMs) } }, limit),
    signInTokens: await deleteBounded(
      signInTokenModel(db),
      { expiresAt: { $lt: before(periods.expiredTokensMs) } },
      limit,
    ),
    memberSessions: await deleteBounded(
      memberSessionModels(db).MemberSession,
      { expiresAt: { $lt: before(periods.expiredTokensMs) } },
      limit,
    ),
    confirmationTokens: await deleteBounded(
      newsletters.Token,
      { expiresAt: { $lt: before(periods.expiredTokensMs) } },
      limit,
    ),
    staffRefreshTokens: await deleteBounded(
      staffModels(db).StaffRefreshToken,
      { expiresAt: { $lt: before(periods.expiredTokensMs) } },
      limit,
    ),
    sentEmails: await deleteBounded(
      email.EmailJob,
      { status: { $in: ['sent', 'suppressed'] }, updatedAt: { $lt: before(periods.finishedJobsMs) } },
      limit,
    ),
    failedEmails: await deleteBounded(
      email.EmailJob,
      { status: 'failed', updatedAt: { $lt: before(periods.failedEmailsMs) } },
      limit,
    ),
    emailEvents: await deleteBounded(
      email.EmailEvent,
      { receivedAt: { $lt: before(periods.finishedJobsMs) } },
      limit,
    ),
    // The address lists of days an erasure no longer reads (address-records.ts): their SendGrid
    // events and claims are past their periods.
    addressDayLists: await deleteBounded(
      addressRecordModel(db),
      { day: { $lt: weekOf(new Date(now)) - ADDRESS_DAYS_READ - 7 } },
      limit,
    ),
    marketingSyncJobs: await deleteBounded(
      marketingSyncModel(db),
      { status: { $in: ['done', 'failed'] }, updatedAt: { $lt: before(periods.finishedJobsMs) } },
      limit,
    ),
  };
  const total = Object.values(deleted).reduce((a, b) => a + b, 0);
  if (total > 0) deps.logger.info({ deleted }, 'retention sweep removed expired records');
  return deleted;
}

/**
 * Removes an address from every temporary record: per-address locks, SendGrid events, copies of
 * mail already sent, finished Marketing sync jobs. What stays, and why, is listed in the README
 * ("Reader data"): members, ledger entries, gifts and Stripe events (contracts and accounting),
 * the suppression list (so we never write to them again), mail still on its way.
 */
export async function eraseAddressFromTemporaryRecords(
  db: Connection,
  email: string,
  found?: { items: AddressItem[]; recent: AddressItem[]; now: Date },
): Promise<{ kept: number }> {
  // Every record is found through the address's lists (email/address-records.ts) and read or
  // removed by primary key: no filter here scans a collection.
  const now = found?.now ?? new Date();
  const { items, recent } = found ?? (await readAddressLists(db, email, now));
  const all = [...items, ...recent];
  const refs = (kind: AddressItem['kind']) => all.filter((i) => i.kind === kind).map((i) => i.ref);
  const { EmailJob, EmailEvent } = emailModels(db);
  const syncJobs = marketingSyncModel(db);
  const claims = db.model('Claim');
  const [, jobs, , syncs] = await Promise.all([
    mapLimit(refs('claim'), 16, (ref) => claims.deleteOne({ _id: claimIdOf(ref, email) })),
    mapLimit(refs('email-job'), 16, async (_id) => {
      const job = await EmailJob.findById(_id).select({ template: 1, status: 1, to: 1 }).lean();
      if (job?.to?.email !== email) return 0; // gone, or not this address's
      if (!job.template.startsWith('newsletter-') && !['sent', 'suppressed', 'failed'].includes(job.status))
        return 1; // still on its way: kept until sent
      await EmailJob.deleteOne({ _id });
      return 0;
    }),
    mapLimit(refs('email-event'), 16, (_id) => EmailEvent.deleteOne({ _id })),
    mapLimit(refs('sync-job'), 16, async (_id) => {
      const job = await syncJobs.findById(_id).select({ status: 1, email: 1 }).lean();
      if (job?.email !== email) return 0;
      if (!['done', 'failed'].includes(job.status)) return 1; // takes them off the list: kept until done
      await syncJobs.deleteOne({ _id });
      return 0;
    }),
    // Not a record of the address, but the reader asked to be forgotten: no browser stays signed in.
    endSessionsOfAddress(db, email, now),
  ]);
  return { kept: [...jobs, ...syncs].filter((k) => k === 1).length };
}
