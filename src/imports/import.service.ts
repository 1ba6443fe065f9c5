import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claimOnce, hasClaim } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { countNewMembers, importMembers, isImportedMember } from '../memberships/member-import.js';
import type { Member } from '../memberships/membership.model.js';
import type { Plans } from '../memberships/plans.js';
import type { NewsletterList } from '../newsletters/lists.js';
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
// insert per collection, with each record's natural key as its `_id` (infra/bulk.ts), and
// primary-key lookups only where an insert found a record already there. Members are written by
// memberships (member-import.ts), the one writer of members.
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
  // One reading pass first: a file that is not well formed (csv-reader.ts) is refused whole, with
  // its line, before a row is written, whoever calls.
  await countRecords(file);
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
      stillThere: (row) => isImportedMember(deps.db, row.email),
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

/** One batch of members, written by memberships (member-import.ts); a dry run only counts. */
async function writeMembers(
  deps: ImportDeps,
  format: MemberFormat,
  rows: MemberRow[],
  summary: ImportSummary,
  options: ImportOptions,
): Promise<(Member['_id'] | null)[]> {
  const batch = options.dryRun
    ? await countNewMembers(deps.db, rows)
    : await importMembers(deps, rows, { joinedVia: `import:${format}`, checkpoint: options.checkpoint });
  summary.created += batch.created;
  summary.existing += batch.existing;
  return batch.ids;
}
