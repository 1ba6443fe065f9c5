import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claimOnce, hasClaim } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { emailKey, ensureMemberKeys, listMemberSubscription } from '../memberships/member-keys.js';
import { type Member, membershipModels } from '../memberships/membership.model.js';
import type { Plans } from '../memberships/plans.js';
import type { NewsletterList } from '../newsletters/lists.js';
import { insertUnique, mapLimit, stableObjectId } from './bulk.js';
import { countRecords, readCsv, readHeader } from './csv-reader.js';
import {
  detectMemberFormat,
  type MemberFormat,
  type MemberRow,
  type Parsed,
  parseMemberRow,
} from './formats.js';

// Members from files, and the file reading every import shares (subscribers.import.ts is the
// other one). Rows are read as they stream, checked, and written in batches: an unordered bulk
// insert per collection, with each record's natural key as its `_id` (bulk.ts), and primary-key lookups only where an insert found a record already there.
// Nothing here sends email or publishes `member.joined`: imported people are told nothing, and
// they were supporters before any drive, so no campaign counts them.

export interface ImportDeps {
  db: Connection;
  clock: Clock;
  plans: Plans;
  lists: NewsletterList[];
}

export interface ImportOptions {
  /** Read and check everything, report what would change, write nothing. */
  dryRun?: boolean;
  batchSize?: number;
  /** Called once the rows counted so far are done (the progress bar). */
  onRows?: (rows: number) => void;
  /** Called between writes (tests inject a crash here to prove a rerun finishes the job). */
  checkpoint?: (stage: string) => void;
}

export interface Rejection {
  /** The file's line number, or the Stripe object's id. */
  line: number | string;
  email: string;
  reason: string;
}

export interface ImportSummary {
  kind: 'members' | 'subscribers' | 'stripe';
  format: string;
  /** Data rows read (excluding the header). */
  rows: number;
  /** New records: members, or list subscriptions. */
  created: number;
  /** Rows whose person was already there (a member, or on the list): left as they are. */
  existing: number;
  rejected: Rejection[];
  dryRun: boolean;
  /** What else was written (Stripe: subscriptions, invoices, charges, refunds). */
  details?: Record<string, number>;
}

export class UnknownFormatError extends Error {}

/** The member an imported address becomes, the same on every run (a rerun finds it by `_id`). */
export const importedMemberId = (email: string) => stableObjectId(`member:${email}`);

/** How many data rows a file has (for the progress bar before the import starts). */
export const rowsIn = countRecords;

/** How a finished batch is marked and recognised (see runFile). */
export interface BatchMarker<T> {
  deps: ImportDeps;
  /** What the batch was imported as: the same rows imported into another list are another batch. */
  scope: string;
  stillThere: (row: T) => Promise<boolean>;
}

interface Batch<T> {
  rows: T[];
}

/** Streams a file's rows through `parse`, refusing duplicates, and hands batches to `write`. */
export async function runFile<T extends { email: string }>(
  file: string,
  parse: (values: Record<string, string>) => Parsed<T>,
  write: (batch: Batch<T>) => Promise<void>,
  summary: ImportSummary,
  options: ImportOptions,
  done: BatchMarker<T>,
) {
  const seen = new Map<string, number>();
  const size = options.batchSize ?? 500;
  let batch: T[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    // A batch a run finished is marked (a claim named by its content). A rerun skips it after one
    // look that its first record is still there: without the mark, each of its rows would cost a
    // primary-key read (about 2 ms each on FerretDB) to learn it was already imported.
    const mark = `import:${done.scope}:${createHash('sha256').update(JSON.stringify(batch)).digest('hex')}`;
    if (!options.dryRun && (await hasClaim(done.deps.db, mark)) && (await done.stillThere(batch[0]!))) {
      summary.existing += batch.length;
    } else {
      await write({ rows: batch });
      if (!options.dryRun) await claimOnce(done.deps.db, mark, done.deps.clock.now());
    }
    batch = [];
    options.onRows?.(summary.rows);
  };
  for await (const { line, values } of readCsv(file)) {
    summary.rows++;
    const parsed = parse(values);
    if ('rejected' in parsed) {
      summary.rejected.push({ line, email: firstEmail(values), reason: parsed.rejected });
      continue;
    }
    const first = seen.get(parsed.row.email);
    if (first !== undefined) {
      summary.rejected.push({ line, email: parsed.row.email, reason: `duplicate of line ${first}` });
      continue;
    }
    seen.set(parsed.row.email, line);
    batch.push(parsed.row);
    if (batch.length >= size) await flush();
  }
  await flush();
  options.onRows?.(summary.rows);
}

const firstEmail = (values: Record<string, string>) =>
  (values.email ?? values['Email Address'] ?? '').trim().slice(0, 200);

/** Members from a Ghost export or the plain format (detected by header). */
export async function importMembersFile(
  deps: ImportDeps,
  file: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const format = detectMemberFormat(await readHeader(file));
  if (!format)
    throw new UnknownFormatError(
      'not a members file: expected a Ghost members export or the plain format (email,…,joined_at,…)',
    );
  const summary = newSummary('members', format, options);
  await runFile(
    file,
    (values) => parseMemberRow(format, values, deps.plans),
    async ({ rows }) => {
      await writeMembers(deps, format, rows, summary, options);
    },
    summary,
    options,
    {
      deps,
      scope: `members:${format}`,
      stillThere: async (row) =>
        Boolean(await membershipModels(deps.db).Member.exists({ _id: importedMemberId(row.email) })),
    },
  );
  return summary;
}

export const newSummary = (
  kind: ImportSummary['kind'],
  format: string,
  options: ImportOptions,
): ImportSummary => ({
  kind,
  format,
  rows: 0,
  created: 0,
  existing: 0,
  rejected: [],
  dryRun: options.dryRun ?? false,
});

/**
 * One batch of members: the members (unique `_id` and unique email), then their key documents
 * (`email:`, `customer:`), then a subscription mirror for rows that name a plan. A member whose
 * address already belongs to someone else (a reader who joined through checkout) is left alone.
 */
export async function writeMembers(
  deps: ImportDeps,
  format: MemberFormat,
  rows: MemberRow[],
  summary: ImportSummary,
  options: ImportOptions,
): Promise<(Member['_id'] | null)[]> {
  const { Member, Subscription } = membershipModels(deps.db);
  if (options.dryRun) {
    const known = await mapLimit(rows, 8, async (row) =>
      Boolean(await deps.db.model('MemberKey').exists({ _id: emailKey(row.email) })),
    );
    for (const k of known) k ? summary.existing++ : summary.created++;
    return rows.map(() => null);
  }
  const now = deps.clock.now();
  const docs: Member[] = rows.map((row) => ({
    _id: importedMemberId(row.email),
    email: row.email,
    ...(row.name ? { name: row.name } : {}),
    locale: 'en',
    ...(row.customerId ? { stripeCustomerId: row.customerId } : {}),
    status: row.status,
    source: 'imported',
    joinedAt: row.joinedAt,
    joinedVia: `import:${format}`,
    ...(row.labels.length ? { labels: row.labels } : {}),
    ...(row.currentPeriodEnd ? { currentPeriodEnd: row.currentPeriodEnd } : {}),
    ...(row.endedAt ? { endedAt: row.endedAt } : {}),
    createdAt: now,
    updatedAt: now,
  }));
  const inserted = await insertUnique(Member.collection, docs);
  options.checkpoint?.('members');
  // Not inserted: ours from an earlier (perhaps interrupted) run, or another member's address.
  const ours = await mapLimit(
    docs.map((_, i) => i),
    8,
    async (i) => inserted.has(i) || Boolean(await Member.exists({ _id: docs[i]!._id })),
  );
  const mine = docs.filter((_, i) => ours[i]);
  summary.created += inserted.size;
  summary.existing += docs.length - inserted.size;
  await ensureMemberKeys(deps.db, mine);
  options.checkpoint?.('keys');
  const subscriptions = rows.flatMap((row, i) =>
    ours[i] && row.subscription
      ? [
          {
            _id: `import:${docs[i]!._id}`,
            memberId: docs[i]!._id,
            customerId: row.customerId ?? '',
            // Not a Stripe subscription (its id is ours): nothing may ask Stripe about it, so it
            // never looks live to code that would (a gift moving a paying member's next charge).
            status: 'external',
            ...row.subscription,
            cancelAtPeriodEnd: false,
            lastEventCreated: 0,
            lastEventId: 'import',
            source: 'imported',
            createdAt: now,
            updatedAt: now,
          },
        ]
      : [],
  );
  await insertUnique(Subscription.collection, subscriptions);
  // Listed under the member like every mirror, so the account page finds it by primary keys.
  await mapLimit(subscriptions, 8, (s) => listMemberSubscription(deps.db, s.memberId, s._id));
  options.checkpoint?.('subscriptions');
  return docs.map((doc, i) => (ours[i] ? doc._id : null));
}
