import { listAtAddresses } from '../email/address-records.js';
import { emailModels } from '../email/email.model.js';
import { insertUnique, mapLimit, stableObjectId } from '../infra/bulk.js';
import type { NewsletterList } from '../newsletters/lists.js';
import { marketingSyncModel } from '../newsletters/marketing-sync.model.js';
import { newsletterModels } from '../newsletters/newsletter.model.js';
import { readHeader } from './csv-reader.js';
import {
  detectSubscriberFormat,
  parseSubscriberRow,
  type SubscriberFormat,
  type SubscriberRow,
} from './formats.js';
import {
  type ImportDeps,
  type ImportOptions,
  type ImportSummary,
  newSummary,
  runFile,
  UnknownFormatError,
} from './import.service.js';

// Newsletter subscribers from Mailchimp's or listmonk's export, one list at a time: the list
// subscription, consent records as the provider kept them, suppressions for everyone who left.
// No confirmation or welcome email: they confirmed with the provider.

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
    {
      deps,
      scope: `subscribers:${format}:${target.slug}`,
      stillThere: async (row) =>
        Boolean(await newsletterModels(deps.db).Subscription.exists({ _id: `${target.slug}:${row.email}` })),
    },
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
  const consentsOf = (row: SubscriberRow) => [
    ...consent(row, 'opt_in_requested', row.optinAt, row.optinIp),
    ...consent(row, 'confirmed', row.confirmAt, row.confirmIp),
    ...(LEFT.has(row.state) ? consent(row, 'unsubscribed', row.leftAt ?? now) : []),
  ];
  // Listed under each address first (email/address-records.ts): the subscription, the consent
  // records and the Marketing sync job this batch may write, for the reader's data export and erasure.
  await listAtAddresses(
    deps.db,
    rows.map((row) => ({
      email: row.email,
      items: [
        { kind: 'subscription' as const, ref: list.slug },
        ...consentsOf(row).map((c) => ({ kind: 'consent' as const, ref: String(c._id) })),
        ...(list.sendgridListId && !LEFT.has(row.state)
          ? [{ kind: 'sync-job' as const, ref: String(syncJobId(list, row.email, row.confirmAt)) }]
          : []),
      ],
    })),
  );
  options.checkpoint?.('address-records');
  const inserted = await insertUnique(Subscription.collection, subscriptions);
  summary.created += inserted.size;
  summary.existing += rows.length - inserted.size;
  options.checkpoint?.('subscriptions');
  await addToMarketingList(deps, list, subscriptions, inserted, now);
  options.checkpoint?.('marketing-sync');

  await insertUnique(Consent.collection, rows.flatMap(consentsOf));
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

const syncKey = (list: NewsletterList, email: string, confirmedAt?: Date) =>
  `add:${list.slug}:${email}:${confirmedAt?.getTime() ?? 'imported'}`;
const syncJobId = (list: NewsletterList, email: string, confirmedAt?: Date) =>
  stableObjectId(`sync:${syncKey(list, email, confirmedAt)}`);

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
        const key = syncKey(list, s.email, s.confirmedAt);
        return {
          _id: syncJobId(list, s.email, s.confirmedAt),
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
