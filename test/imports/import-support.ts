import path from 'node:path';
import type { Connection } from 'mongoose';
import type { ImportDeps } from '../../src/imports/import.service.js';
import type { Clock } from '../../src/infra/clock.js';
import { DEFAULT_PLANS } from '../../src/memberships/plans.js';
import { DEFAULT_LISTS } from '../../src/newsletters/lists.js';

export const fixture = (name: string) => path.join(import.meta.dirname, 'fixtures', name);

/** Our lists, and one synced to a SendGrid Marketing list (where newsletters are sent from). */
export const LISTS = [
  ...DEFAULT_LISTS,
  { ...DEFAULT_LISTS[0]!, slug: 'synced', sendgridListId: 'sg-list-1' },
];

export const importDeps = (db: Connection, clock: Clock): ImportDeps => ({
  db,
  clock,
  plans: DEFAULT_PLANS,
  lists: LISTS,
});

/** Every collection an import writes (and email_jobs, which it must not), as sorted plain JSON. */
export const IMPORTED_COLLECTIONS = [
  'members',
  'member_keys',
  'subscriptions',
  'subscription_observations',
  'member_subscriptions',
  'newsletter_subscriptions',
  'newsletter_consents',
  'email_suppressions',
  'ledger',
  'payment_links',
  'refund_steps',
  'marketing_sync_jobs',
  'email_jobs',
];

export async function snapshot(db: Connection, collections = IMPORTED_COLLECTIONS) {
  const state: Record<string, unknown[]> = {};
  for (const name of collections) {
    const docs = await db.collection(name).find().toArray();
    state[name] = docs
      .map((d) => JSON.parse(JSON.stringify(d)))
      .sort((a, b) => String(a._id).localeCompare(String(b._id)));
  }
  return state;
}
