import { createHash } from 'node:crypto';
import { type Connection, Types } from 'mongoose';
import { type AddressItem, itemsAtAddress, listAtAddress } from '../email/address-records.js';
import type { Clock } from '../infra/clock.js';
import { signLink } from '../infra/signed-links.js';
import type { DomainEvents } from '../shared/domain-events.js';
import type { NewsletterList } from './lists.js';
import { enqueueMarketingSync } from './marketing-sync.js';
import { type NewsletterSubscription, newsletterModels } from './newsletter.model.js';

// What the newsletter use cases share: their dependencies, the consent record, the signed links
// in their emails, and a subscription's key. The use cases themselves: opt-in.service.ts (sign-up,
// confirmation, resend), preferences.service.ts (lists, unsubscribe); a reader's data export and
// erasure are src/retention/reader-data.service.ts, above newsletters.

export interface NewsletterDeps {
  db: Connection;
  clock: Clock;
  lists: NewsletterList[];
  publicBaseUrl: string;
  linkSecret: string;
  /** How long a confirmation link works. */
  confirmationHours: number;
  /** Where confirmations and unsubscriptions are told (integrations send them as webhooks). */
  events?: DomainEvents;
}

export interface ConsentContext {
  sourcePage?: string;
  ip?: string;
  userAgent?: string;
  consentTextVersion?: string;
}

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
export const subscriptionId = (list: string, email: string) => `${list}:${email}`;

export function preferencesUrl(
  deps: Pick<NewsletterDeps, 'publicBaseUrl' | 'linkSecret'>,
  email: string,
  list?: string,
) {
  const url = new URL(`${deps.publicBaseUrl}/newsletters/unsubscribe`);
  url.searchParams.set('e', email);
  if (list) url.searchParams.set('list', list);
  url.searchParams.set('sig', signLink(deps.linkSecret, 'unsubscribe', email));
  return url.toString();
}

export function dataUrl(
  deps: Pick<NewsletterDeps, 'publicBaseUrl' | 'linkSecret'>,
  email: string,
  expires: number,
) {
  const url = new URL(`${deps.publicBaseUrl}/newsletters/my-data`);
  url.searchParams.set('e', email);
  url.searchParams.set('exp', String(expires));
  url.searchParams.set('sig', signLink(deps.linkSecret, 'my-data', email, String(expires)));
  return url.toString();
}

export type ConsentAction = 'opt_in_requested' | 'confirmed' | 'unsubscribed';

/** The consent records of one opt-in or opt-out, with their ids, to be listed before they are written. */
export function consentRecords(
  email: string,
  lists: string[],
  action: ConsentAction,
  context: ConsentContext,
  at: Date,
) {
  // Written on every sign-up: through the driver (see dropUndefined).
  return lists.map((list) =>
    dropUndefined({ _id: new Types.ObjectId(), email, list, action, at, ...context }),
  );
}

export const consentItems = (records: { _id: Types.ObjectId }[]): AddressItem[] =>
  records.map((r) => ({ kind: 'consent', ref: String(r._id) }));

/** Writes consent records already listed under their address (email/address-records.ts). */
export async function writeConsents(db: Connection, records: ReturnType<typeof consentRecords>) {
  const { collection } = newsletterModels(db).Consent;
  // One list is the usual case, and the driver's insertMany goes through its bulk machinery.
  if (records.length === 1) await collection.insertOne(records[0] as never);
  else await collection.insertMany(records as never[]);
}

export async function recordConsent(
  deps: NewsletterDeps,
  email: string,
  lists: string[],
  action: ConsentAction,
  context: ConsentContext,
) {
  const records = consentRecords(email, lists, action, context, deps.clock.now());
  await listAtAddress(deps.db, email, consentItems(records));
  await writeConsents(deps.db, records);
  return records;
}

/**
 * A sign-up's writes go through the driver rather than as mongoose documents: on the embedded
 * database a sign-up is bound by CPU, and casting and validating a document cost about as much as
 * the insert. Every field is typed here and was validated at the edge; undefined ones are left out,
 * as mongoose leaves them out.
 */
export function dropUndefined<T extends object>(doc: T): T {
  return Object.fromEntries(Object.entries(doc).filter(([, value]) => value !== undefined)) as T;
}

export const listName = (deps: NewsletterDeps, slug: string) =>
  deps.lists.find((l) => l.slug === slug)?.name ?? slug;

/** A suppressed address (bounce, spam report) leaves the SendGrid lists; its consent history stays. */
export async function removeSuppressedFromLists(deps: NewsletterDeps, email: string): Promise<void> {
  const now = deps.clock.now();
  for (const subscription of await subscriptionsOf(deps.db, email)) {
    if (subscription.status === 'confirmed') {
      await enqueueMarketingSync(deps, { email, list: subscription.list, action: 'remove', at: now });
    }
  }
}

/**
 * Every subscription of the address, lists no longer configured too: for data export, erasure and
 * suppression. By primary keys: the lists are those listed under the address (email/address-records.ts).
 */
export async function subscriptionsOf(db: Connection, email: string) {
  const { Subscription } = newsletterModels(db);
  const lists = (await itemsAtAddress(db, email)).filter((i) => i.kind === 'subscription').map((i) => i.ref);
  const found = await Promise.all(
    lists.map((list) => Subscription.findById(subscriptionId(list, email)).lean<NewsletterSubscription>()),
  );
  return found
    .filter((s): s is NewsletterSubscription => s !== null)
    .sort((a, b) => a.list.localeCompare(b.list));
}
