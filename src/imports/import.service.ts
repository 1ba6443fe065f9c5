import type { Connection } from 'mongoose';
import { emailModels } from '../email/email.model.js';
import type { Clock } from '../infra/clock.js';
import { emailKey, ensureMemberKeys } from '../memberships/member-keys.js';
import { type Member, membershipModels } from '../memberships/membership.model.js';
import type { Plans } from '../memberships/plans.js';
import type { NewsletterList } from '../newsletters/lists.js';
import { marketingSyncModel } from '../newsletters/marketing-sync.model.js';
import { newsletterModels } from '../newsletters/newsletter.model.js';
import { insertUnique, mapLimit, stableObjectId } from './bulk.js';
import { countRecords, readCsv, readHeader } from './csv-reader.js';
import {
  detectMemberFormat,
  detectSubscriberFormat,
  type MemberFormat,
  type MemberRow,
  type Parsed,
  parseMemberRow,
  parseSubscriberRow,
  type SubscriberFormat,
  type SubscriberRow,
} from './formats.js';

// Members and newsletter subscribers from files. Rows are read as they stream, checked, and
// written in batches: an unordered bulk insert per collection, with each record's natural key as
// its `_id` (bulk.ts), and primary-key lookups only where an insert found a record already there.
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

interface Batch<T> {
  rows: T[];
}

/** Streams a file's rows through `parse`, refusing duplicates, and hands batches to `write`. */
async function runFile<T extends { email: string }>(
  file: string,
  parse: (values: Record<string, string>) => Parsed<T>,
  write: (batch: Batch<T>) => Promise<void>,
  summary: ImportSummary,
  options: ImportOptions,
) {
  const seen = new Map<string, number>();
  const size = options.batchSize ?? 500;
  let batch: T[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await write({ rows: batch });
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
  options.checkpoint?.('subscriptions');
  return docs.map((doc, i) => (ours[i] ? doc._id : null));
}

/** Newsletter subscribers of one list from Mailchimp's or listmonk's export (detected by header). */
export async function importSubscribersFile(
  deps: ImportDeps,
  file: string,
  list: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const target = deps.lists.find((l) => l.slug === list);
  if (!target) throw new UnknownFormatError(`unknown newsletter list "${list}"`);
  const format = detectSubscriberFormat(await readHeader(file));
  if (!format)
    throw new UnknownFormatError(
      'not a subscribers file: expected a Mailchimp audience export or a listmonk subscribers export',
    );
  const summary = newSummary('subscribers', format, options);
  await runFile(
    file,
    (values) => parseSubscriberRow(format, values),
    ({ rows }) => writeSubscribers(deps, target, format, rows, summary, options),
    summary,
    options,
  );
  return summary;
}

const LEFT = new Set(['unsubscribed', 'cleaned', 'blocklisted', 'disabled']);
const SUPPRESSED = new Set(['unsubscribed', 'cleaned', 'blocklisted']);

/**
 * One batch of subscribers: the list subscription (`<list>:<email>`, confirmed or unsubscribed),
 * consent records with the provider's own times and IPs marked imported, and a suppression for
 * everyone who left (unsubscribed, cleaned, blocklisted). A reader already on the list keeps their
 * state here; their imported history and a suppression are still recorded.
 */
async function writeSubscribers(
  deps: ImportDeps,
  list: NewsletterList,
  format: SubscriberFormat,
  rows: SubscriberRow[],
  summary: ImportSummary,
  options: ImportOptions,
) {
  const { Subscription, Consent } = newsletterModels(deps.db);
  const { Suppression } = emailModels(deps.db);
  const idOf = (row: SubscriberRow) => `${list.slug}:${row.email}`;
  if (options.dryRun) {
    const known = await mapLimit(rows, 8, async (row) =>
      Boolean(await Subscription.exists({ _id: idOf(row) })),
    );
    for (const k of known) k ? summary.existing++ : summary.created++;
    return;
  }
  const now = deps.clock.now();
  const subscriptions = rows.map((row) => {
    const left = LEFT.has(row.state);
    return {
      _id: idOf(row),
      list: list.slug,
      email: row.email,
      ...(row.name ? { name: row.name } : {}),
      locale: list.language,
      status: left ? 'unsubscribed' : 'confirmed',
      requestedAt: row.optinAt ?? row.confirmAt ?? row.leftAt ?? now,
      ...(row.confirmAt ? { confirmedAt: row.confirmAt } : {}),
      ...(left ? { unsubscribedAt: row.leftAt ?? now } : {}),
    };
  });
  const inserted = await insertUnique(Subscription.collection, subscriptions);
  summary.created += inserted.size;
  summary.existing += rows.length - inserted.size;
  options.checkpoint?.('subscriptions');
  await addToMarketingList(deps, list, subscriptions, inserted, now);
  options.checkpoint?.('marketing-sync');

  const sourcePage = `import:${format}`;
  const consent = (row: SubscriberRow, action: string, at: Date | undefined, ip?: string) =>
    at
      ? [
          {
            _id: stableObjectId(`consent:${list.slug}:${row.email}:${action}`),
            email: row.email,
            list: list.slug,
            action,
            at,
            sourcePage,
            ...(ip ? { ip } : {}),
            imported: true,
          },
        ]
      : [];
  await insertUnique(
    Consent.collection,
    rows.flatMap((row) => [
      ...consent(row, 'opt_in_requested', row.optinAt, row.optinIp),
      ...consent(row, 'confirmed', row.confirmAt, row.confirmIp),
      ...(LEFT.has(row.state) ? consent(row, 'unsubscribed', row.leftAt ?? now) : []),
    ]),
  );
  options.checkpoint?.('consents');
  await insertUnique(
    Suppression.collection,
    rows
      .filter((row) => SUPPRESSED.has(row.state))
      .map((row) => ({
        _id: row.email,
        // Cleaned: Mailchimp found the address undeliverable (hard bounces).
        reason: row.state === 'cleaned' ? 'bounce' : 'unsubscribe',
        detail: `${row.state} in ${format} (imported)`,
        suppressedAt: row.leftAt ?? now,
      })),
  );
  options.checkpoint?.('suppressions');
}

/**
 * Newsletters are sent from SendGrid Marketing lists (src/newsletters/marketing-sync.ts): every
 * confirmed imported reader of a synced list gets the same "add" job a confirmation enqueues (no
 * email: it adds a contact). Keyed by the confirmation time, so a rerun enqueues nothing new; a row
 * a previous run inserted is added only if it is still confirmed (a primary-key read, synced lists only).
 */
async function addToMarketingList(
  deps: ImportDeps,
  list: NewsletterList,
  subscriptions: { _id: string; email: string; name?: string; status: string; confirmedAt?: Date }[],
  inserted: Set<number>,
  now: Date,
) {
  if (!list.sendgridListId) return;
  const { Subscription } = newsletterModels(deps.db);
  const confirmed = await mapLimit(
    subscriptions.map((s, i) => [s, i] as const),
    8,
    async ([s, i]) =>
      s.status === 'confirmed' &&
      (inserted.has(i) ||
        (await Subscription.findById(s._id).select({ status: 1 }).lean())?.status === 'confirmed'),
  );
  await insertUnique(
    marketingSyncModel(deps.db).collection,
    subscriptions
      .filter((_, i) => confirmed[i])
      .map((s) => {
        const key = `add:${list.slug}:${s.email}:${s.confirmedAt?.getTime() ?? 'imported'}`;
        return {
          _id: stableObjectId(`sync:${key}`),
          key,
          email: s.email,
          ...(s.name ? { name: s.name } : {}),
          listId: list.sendgridListId,
          action: 'add',
          status: 'pending',
          attempts: 0,
          claimSeq: 0,
          nextAttemptAt: now,
          createdAt: now,
          updatedAt: now,
        };
      }),
  );
}
