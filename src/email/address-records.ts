import { createHash } from 'node:crypto';
import { type Connection, type Model, Schema } from 'mongoose';
import { insertUnique, mapLimit } from '../infra/bulk.js';
import { isDuplicateKey } from '../infra/db.js';

// What we hold under an address, found by primary key. A reader's data export and erasure must
// find every consent record, subscription, email and token of an address; on FerretDB any filter
// but `{_id}` decodes the whole collection (40 s at 100,000 documents). So each writer of such a
// record first lists its id here, under the address, and the export and erasure read the list
// and then each record by `_id`. The essay: docs/privacy.md, "Finding a reader's data".
//
// A list is append-only slots `<key>#0`, `<key>#1`, … (as src/infra/slots.ts: an insert with a
// unique `_id` is the one atomic write everywhere), each holding the items one write listed. The
// key is the SHA-256 of the normalized address, so the list names no one. The id is listed before
// its record is written: a crash between the two leaves a listed id with no record, which readers
// skip; never a record that cannot be found.
//
// Records that are swept within days (SendGrid events, per-address claims) are listed in a list
// per week (`<key>@<first day>`), so the address's main list does not grow with every email event,
// and the retention sweep removes old week lists by their `day` field.

/** What a listed item names, and how its record's `_id` follows from `ref` (see the readers). */
export type AddressRecordKind =
  | 'subscription' // ref: the list's slug; `_id` is `<list>:<address>`
  | 'consent' // ref: the consent record's ObjectId
  | 'token' // ref: the confirmation token's hash
  | 'email-job' // ref: the email job's ObjectId
  | 'sync-job' // ref: the Marketing sync job's ObjectId
  | 'email-event' // ref: SendGrid's sg_event_id (week lists)
  | 'claim' // ref: the claim's `_id` with `:<address>` taken out (week lists)
  | 'gift'; // ref: the gift's ObjectId (the address bought it or receives it)

export interface AddressItem {
  kind: AddressRecordKind;
  ref: string;
}

interface AddressSlot {
  _id: string;
  items: AddressItem[];
  /** Week lists only: the week's first day (days since 1970, UTC), for the retention sweep. */
  day?: number;
}

const slotSchema = new Schema<AddressSlot>(
  { _id: String, items: [{ _id: false, kind: String, ref: String }], day: { type: Number, index: true } },
  { versionKey: false },
);

export function registerAddressRecordModel(db: Connection): void {
  if (!db.models.AddressRecord) db.model('AddressRecord', slotSchema, 'address_records');
}

export const addressRecordModel = (db: Connection) => db.model<AddressSlot>('AddressRecord');

/** How many days back the week lists are read: SendGrid events are kept 30 days, claims one. */
export const ADDRESS_DAYS_READ = 45;

const DAY_MS = 86_400_000;
/** The first day (days since 1970) of the week list `at` falls in. */
export const weekOf = (at: Date) => Math.floor(at.getTime() / (7 * DAY_MS)) * 7;
/** The week lists an erasure reads at `now`: every week with a day in the last ADDRESS_DAYS_READ days. */
const weeksRead = (now: Date) =>
  Array.from({ length: Math.floor(ADDRESS_DAYS_READ / 7) + 2 }, (_, i) => weekOf(now) - 7 * i);
// Normalized as suppression.service.ts normalizes (not imported: that module needs this one's model).
const keyOf = (email: string) => createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
const dayKey = (email: string, day: number) => `${keyOf(email)}@${day}`;
const slotId = (key: string, n: number) => `${key}#${n}`;
const same = (a: AddressItem) => (b: AddressItem) => a.kind === b.kind && a.ref === b.ref;

/** Every slot under `key`, by primary keys, a few at once (a list is rarely long). */
async function readSlots(model: Model<AddressSlot>, key: string, first = 4): Promise<AddressSlot[]> {
  const slots: AddressSlot[] = [];
  for (let batch = first; ; batch = Math.min(batch * 2, 32)) {
    const read = await Promise.all(
      Array.from({ length: batch }, (_, i) =>
        model.collection.findOne({ _id: slotId(key, slots.length + i) as never }),
      ),
    );
    for (const slot of read) {
      if (!slot) return slots;
      slots.push(slot as unknown as AddressSlot);
    }
  }
}

// Appends to one list from this process are written together: while one is being written, the
// next ones gather into a single slot written after it. Without this, a burst of requests naming
// one address (100 sign-ups at once) would race for each slot in turn: a hundred rounds of
// conflicting inserts. Racing processes still resolve by the unique insert (writeSlot).
interface Batch {
  items: AddressItem[];
  written?: Promise<void>;
}
const appending = new WeakMap<Connection, Map<string, { running?: Promise<void>; next?: Batch }>>();

function append(db: Connection, key: string, items: AddressItem[], day?: number): Promise<void> {
  const lists = appending.get(db) ?? new Map<string, { running?: Promise<void>; next?: Batch }>();
  appending.set(db, lists);
  const list = lists.get(key) ?? {};
  lists.set(key, list);
  const gathering = list.next;
  if (gathering) {
    for (const item of items) if (!gathering.items.some(same(item))) gathering.items.push(item);
    return gathering.written!;
  }
  const batch: Batch = { items: [...items] };
  batch.written = (list.running ?? Promise.resolve())
    .catch(() => {}) // the previous batch's callers see its failure; this one is written anyway
    .then(() => {
      list.next = undefined; // from here, new appends gather into the batch after this one
      return writeSlot(db, key, batch.items, day);
    });
  list.next = batch;
  list.running = batch.written;
  const tidy = () => {
    if (list.running === batch.written && !list.next) lists.delete(key);
  };
  batch.written.then(tidy, tidy);
  return batch.written;
}

async function writeSlot(db: Connection, key: string, items: AddressItem[], day?: number): Promise<void> {
  const model = addressRecordModel(db);
  const slots = await readSlots(model, key, 1); // most writes are to a new address's empty list
  let fresh = items.filter((item) => !slots.some((slot) => slot.items.some(same(item))));
  for (let n = slots.length; fresh.length > 0; n++) {
    try {
      await model.collection.insertOne({
        _id: slotId(key, n),
        items: fresh,
        ...(day === undefined ? {} : { day }),
      } as never);
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // Another write took this slot: what it listed need not be listed again.
      const taken = (await model.collection.findOne({ _id: slotId(key, n) as never })) as AddressSlot | null;
      fresh = fresh.filter((item) => !taken?.items.some(same(item)));
    }
  }
}

/** Lists records under the address, before they are written (idempotent: a listed item is not listed twice). */
export async function listAtAddress(db: Connection, email: string, items: AddressItem[]): Promise<void> {
  if (items.length > 0) await append(db, keyOf(email), items);
}

/** Lists short-lived records (SendGrid events, claims) in the address's list for the week of `at`. */
export async function listAtAddressOn(db: Connection, email: string, at: Date, items: AddressItem[]) {
  if (items.length > 0) await append(db, dayKey(email, weekOf(at)), items, weekOf(at));
}

/**
 * Lists many addresses' records at once (imports, the migration): a bulk insert of each address's
 * slot #0, then of slot #1 for the addresses whose #0 was taken, and so on, without reading them.
 * An address new to us costs one insert among a batch's; one on a second list, two. A batch listed
 * again (a rerun after a crash) may list an id twice, which readers ignore.
 */
export async function listAtAddresses(
  db: Connection,
  entries: { email: string; items: AddressItem[]; at?: Date }[],
): Promise<void> {
  const merged = new Map<string, { key: string; n: number; items: AddressItem[]; day?: number }>();
  for (const { email, items, at } of entries) {
    const day = at ? weekOf(at) : undefined;
    const key = day === undefined ? keyOf(email) : dayKey(email, day);
    const entry = merged.get(key) ?? { key, n: 0, items: [], ...(day === undefined ? {} : { day }) };
    for (const item of items) if (!entry.items.some(same(item))) entry.items.push(item);
    merged.set(key, entry);
  }
  const { collection } = addressRecordModel(db);
  let pending = [...merged.values()].filter((e) => e.items.length > 0);
  while (pending.length > 0) {
    const inserted = await insertUnique(
      collection,
      pending.map((e) => ({
        _id: slotId(e.key, e.n),
        items: e.items,
        ...(e.day === undefined ? {} : { day: e.day }),
      })),
    );
    pending = pending.filter((_, i) => !inserted.has(i)).map((e) => ({ ...e, n: e.n + 1 }));
  }
}

/** Every item listed under the address (its main list), each once, in the order listed. */
export async function itemsAtAddress(db: Connection, email: string): Promise<AddressItem[]> {
  return distinct(await readSlots(addressRecordModel(db), keyOf(email)));
}

/** What an erasure reads: every item listed under the address, and the slots holding them. */
export interface AddressLists {
  /** The main list's items. */
  items: AddressItem[];
  /** The items of the week lists of the last ADDRESS_DAYS_READ days. */
  recent: AddressItem[];
  /** Each list read and how many slots it has, for forgetAddress. */
  lists: { key: string; slots: number }[];
}

/** Reads the address's main list and its recent week lists (most are empty: one read each). */
export async function readAddressLists(db: Connection, email: string, now: Date): Promise<AddressLists> {
  const model = addressRecordModel(db);
  const keys = [keyOf(email), ...weeksRead(now).map((week) => dayKey(email, week))];
  const read = await mapLimit(keys, 16, (key) => readSlots(model, key, key === keys[0] ? 4 : 1));
  return {
    items: distinct(read[0]!),
    recent: distinct(read.slice(1).flat()),
    lists: keys.map((key, i) => ({ key, slots: read[i]!.length })).filter((l) => l.slots > 0),
  };
}

const distinct = (slots: AddressSlot[]) => {
  const items: AddressItem[] = [];
  for (const slot of slots) for (const item of slot.items) if (!items.some(same(item))) items.push(item);
  return items;
};

/**
 * Removes the address's lists read by readAddressLists, once every record they name is gone
 * (erasure). Slots are removed last first, so a list read meanwhile is always a whole prefix.
 */
export async function forgetAddress(db: Connection, read: AddressLists): Promise<void> {
  const model = addressRecordModel(db);
  await mapLimit(read.lists, 8, async ({ key, slots }) => {
    for (let n = slots - 1; n >= 0; n--) await model.collection.deleteOne({ _id: slotId(key, n) as never });
  });
}

/** A claim's `ref` (its `_id` without the address) and back: `<prefix>:<address>:<rest>`. */
export const claimRef = (claimId: string, email: string) => claimId.replace(`:${email}:`, ':');
export const claimIdOf = (ref: string, email: string) => {
  const colon = ref.indexOf(':');
  return `${ref.slice(0, colon)}:${email}:${ref.slice(colon + 1)}`;
};
