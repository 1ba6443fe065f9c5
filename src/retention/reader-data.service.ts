import type { Connection } from 'mongoose';
import {
  type AddressItem,
  forgetAddress,
  itemsAtAddress,
  listAtAddresses,
  readAddressLists,
} from '../email/address-records.js';
import { emailModels } from '../email/email.model.js';
import { type Gift, giftModel } from '../gifts/gift.model.js';
import { mapLimit } from '../infra/bulk.js';
import { marketingSyncModel } from '../newsletters/marketing-sync.model.js';
import { type ConsentRecord, newsletterModels } from '../newsletters/newsletter.model.js';
import { subscriptionsOf } from '../newsletters/newsletter.service.js';
import { eraseAddressFromTemporaryRecords } from './retention.service.js';

// What we hold about a reader, found by address: for their data export and erasure, which reach
// past newsletters into email and the temporary records retention sweeps. Every read is by
// primary key: the address's records are listed under it by their writers (email/address-records.ts),
// and by backfillReaderRecords for records written before the lists were kept.

const refsOf = (items: AddressItem[], kind: AddressItem['kind']) =>
  items.filter((i) => i.kind === kind).map((i) => i.ref);

/** Everything we hold about a newsletter reader: what they subscribed to and every consent record. */
export async function exportReaderData(db: Connection, email: string) {
  const { Consent } = newsletterModels(db);
  const { EmailJob } = emailModels(db);
  const items = await itemsAtAddress(db, email);
  const [subscriptions, consents, jobs, gifts] = await Promise.all([
    subscriptionsOf(db, email),
    mapLimit(refsOf(items, 'consent'), 16, (id) =>
      Consent.findById(id).select({ _id: 0 }).lean<ConsentRecord>(),
    ),
    mapLimit(refsOf(items, 'email-job'), 16, (id) =>
      EmailJob.findById(id).select({ template: 1, status: 1, createdAt: 1, 'to.email': 1, _id: 0 }).lean(),
    ),
    mapLimit(refsOf(items, 'gift'), 16, (id) => giftModel(db).findById(id).lean<Gift>()),
  ]);
  return {
    email,
    subscriptions: subscriptions.map(({ _id, ...rest }) => rest),
    consents: consents
      .filter((c): c is ConsentRecord => c !== null && c.email === email)
      .sort((a, b) => a.at.getTime() - b.at.getTime()),
    emails: jobs
      .filter((j) => j !== null && j.to.email === email && j.template.startsWith('newsletter-'))
      .map((j) => ({ template: j!.template, status: j!.status, createdAt: j!.createdAt })),
    gifts: gifts.flatMap((gift) => (gift ? giftAsSeenBy(gift, email) : [])),
  };
}

/** A gift the address bought or receives, as that reader sees it: never the redemption code. */
function giftAsSeenBy(gift: Gift, email: string) {
  const role =
    gift.purchaser.email === email ? 'purchaser' : gift.recipient.email === email ? 'recipient' : null;
  if (!role) return []; // listed under an address it no longer names (the recipient was changed)
  return [
    {
      role,
      status: gift.status,
      durationMonths: gift.durationMonths,
      ...(role === 'purchaser'
        ? { amount: gift.amount, currency: gift.currency, recipient: gift.recipient, message: gift.message }
        : { from: gift.showPurchaserName ? gift.purchaser.name : null, message: gift.message }),
      deliverAt: gift.deliverAt,
      createdAt: gift.createdAt,
    },
  ];
}

/** Erases a newsletter reader: subscriptions, consent records, tokens, newsletter mail, and the address in temporary records. */
export async function deleteReaderData(db: Connection, email: string, now = new Date()): Promise<void> {
  const { Subscription, Consent, Token } = newsletterModels(db);
  const read = await readAddressLists(db, email, now);
  const { items, recent } = read;
  const byId = (model: { deleteOne(filter: object): { exec(): Promise<unknown> } }, ids: string[]) =>
    mapLimit(ids, 16, (_id) => model.deleteOne({ _id }).exec());
  await Promise.all([
    byId(
      Subscription,
      refsOf(items, 'subscription').map((list) => `${list}:${email}`),
    ),
    byId(Consent, refsOf(items, 'consent')),
    byId(Token, refsOf(items, 'token')),
  ]);
  const { kept } = await eraseAddressFromTemporaryRecords(db, email, { items, recent, now });
  // Mail or a list removal still on its way stays listed, so that erasing again finds it once sent;
  // gifts are kept (docs/privacy.md, "What stays"), so their listing stays for the next export.
  if (kept === 0 && refsOf(items, 'gift').length === 0) await forgetAddress(db, read);
}

/**
 * Lists every reader record written before the address lists were kept (a migration, run once):
 * one scan of each collection that holds an address. Returns how many records it listed.
 */
export async function backfillReaderRecords(db: Connection): Promise<number> {
  const { Subscription, Consent, Token } = newsletterModels(db);
  const { EmailJob, EmailEvent } = emailModels(db);
  let listed = 0;
  const sources: {
    cursor: AsyncIterable<Record<string, unknown>>;
    entry: (d: never) => Entry | undefined;
  }[] = [
    {
      cursor: Subscription.collection.find({}, { projection: { email: 1, list: 1 } }),
      entry: (d: { email: string; list: string }) => ({
        email: d.email,
        items: [{ kind: 'subscription', ref: d.list }],
      }),
    },
    {
      cursor: Consent.collection.find({}, { projection: { email: 1 } }),
      entry: (d: { _id: unknown; email: string }) => ({
        email: d.email,
        items: [{ kind: 'consent', ref: String(d._id) }],
      }),
    },
    {
      cursor: Token.collection.find({}, { projection: { email: 1 } }),
      entry: (d: { _id: unknown; email: string }) => ({
        email: d.email,
        items: [{ kind: 'token', ref: String(d._id) }],
      }),
    },
    {
      cursor: EmailJob.collection.find({}, { projection: { 'to.email': 1 } }),
      entry: (d: { _id: unknown; to?: { email?: string } }) =>
        d.to?.email ? { email: d.to.email, items: [{ kind: 'email-job', ref: String(d._id) }] } : undefined,
    },
    {
      cursor: marketingSyncModel(db).collection.find({}, { projection: { email: 1 } }),
      entry: (d: { _id: unknown; email?: string }) =>
        d.email ? { email: d.email, items: [{ kind: 'sync-job', ref: String(d._id) }] } : undefined,
    },
    {
      cursor: EmailEvent.collection.find({}, { projection: { email: 1, receivedAt: 1 } }),
      entry: (d: { _id: unknown; email?: string; receivedAt?: Date }) =>
        d.email
          ? {
              email: d.email,
              at: d.receivedAt ?? new Date(),
              items: [{ kind: 'email-event', ref: String(d._id) }],
            }
          : undefined,
    },
    {
      cursor: db
        .model('Claim')
        .collection.find(
          { _id: { $regex: '^(sign-in-email|newsletter-confirmation):[^:]+@' } as never },
          { projection: { claimedAt: 1 } },
        ),
      entry: (d: { _id: string; claimedAt?: Date }) => {
        const [prefix, email, ...rest] = d._id.split(':');
        return {
          email: email!,
          at: d.claimedAt ?? new Date(),
          items: [{ kind: 'claim', ref: `${prefix}:${rest.join(':')}` }],
        };
      },
    },
  ];
  for (const { cursor, entry } of sources) {
    let batch: Entry[] = [];
    for await (const doc of cursor) {
      const e = entry(doc as never);
      if (e) batch.push(e);
      if (batch.length === 500) {
        await listAtAddresses(db, batch);
        listed += batch.length;
        batch = [];
      }
    }
    await listAtAddresses(db, batch);
    listed += batch.length;
  }
  return listed;
}

type Entry = Parameters<typeof listAtAddresses>[1][number];
