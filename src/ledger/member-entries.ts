import { type Connection, Schema, type Types } from 'mongoose';
import { insertUnique, mapLimit } from '../infra/bulk.js';
import { isDuplicateKey } from '../infra/db.js';
import { type LedgerEntry, ledgerModel } from './ledger.model.js';

// A member's ledger entries, found by primary key: the console's member page shows them, and on
// FerretDB `{memberId}` decodes the whole ledger (every entry of every member, on every view). So
// each entry naming a member is first listed under it, as append-only slots `<memberId>#0`,
// `<memberId>#1`, … (an insert with a unique `_id`, as src/infra/slots.ts), each holding the entry
// ids one write listed. Listed before the entry is written: a crash between the two leaves a listed
// id with no entry, which readers skip; never an entry that cannot be found.

interface MemberEntriesSlot {
  _id: string;
  entryIds: string[];
}

const slotSchema = new Schema<MemberEntriesSlot>({ _id: String, entryIds: [String] }, { versionKey: false });

export function registerMemberEntriesModel(db: Connection): void {
  if (!db.models.MemberEntries) db.model('MemberEntries', slotSchema, 'member_entries');
}

const model = (db: Connection) => db.model<MemberEntriesSlot>('MemberEntries');
const slotId = (memberId: string, n: number) => `${memberId}#${n}`;

async function readSlots(db: Connection, memberId: string): Promise<MemberEntriesSlot[]> {
  const slots: MemberEntriesSlot[] = [];
  for (;;) {
    const slot = await model(db).findById(slotId(memberId, slots.length)).lean<MemberEntriesSlot>();
    if (!slot) return slots;
    slots.push(slot);
  }
}

/** The ids listed under the member, each once, oldest listed first. */
async function entryIdsOf(db: Connection, memberId: string): Promise<string[]> {
  return [...new Set((await readSlots(db, memberId)).flatMap((slot) => slot.entryIds))];
}

/** Lists one entry under its member (idempotent: an entry already listed is not listed again). */
export async function listMemberEntry(db: Connection, memberId: Types.ObjectId, entryId: string) {
  const slots = await readSlots(db, String(memberId));
  if (slots.some((slot) => slot.entryIds.includes(entryId))) return;
  for (let n = slots.length; ; n++) {
    try {
      await model(db).create({ _id: slotId(String(memberId), n), entryIds: [entryId] });
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const taken = await model(db)
        .findById(slotId(String(memberId), n))
        .lean<MemberEntriesSlot>();
      if (taken?.entryIds.includes(entryId)) return; // a racing write listed it
    }
  }
}

/**
 * Lists many entries at once (imports, the migration), without reading: a bulk insert of each
 * member's slot #0, then #1 for the members whose #0 was taken, and so on. A batch listed again (a
 * rerun after a crash) may list an id twice, which readers ignore.
 */
export async function listMemberEntries(
  db: Connection,
  entries: { memberId?: Types.ObjectId | null; _id: string }[],
): Promise<void> {
  const byMember = new Map<string, string[]>();
  for (const { memberId, _id } of entries) {
    if (!memberId) continue;
    const ids = byMember.get(String(memberId)) ?? [];
    if (!ids.includes(_id)) ids.push(_id);
    byMember.set(String(memberId), ids);
  }
  let pending = [...byMember].map(([memberId, entryIds]) => ({ memberId, entryIds, n: 0 }));
  while (pending.length > 0) {
    const inserted = await insertUnique(
      model(db).collection,
      pending.map((p) => ({ _id: slotId(p.memberId, p.n), entryIds: p.entryIds })),
    );
    pending = pending.filter((_, i) => !inserted.has(i)).map((p) => ({ ...p, n: p.n + 1 }));
  }
}

/** The member's newest `limit` entries, newest first, by primary keys only. */
export async function ledgerEntriesOf(
  db: Connection,
  memberId: Types.ObjectId | string,
  limit: number,
): Promise<LedgerEntry[]> {
  // Entries are listed as they are recorded, so the last listed are the newest (a late Stripe
  // delivery may be a little out of order; the sort below puts the page right).
  const ids = (await entryIdsOf(db, String(memberId))).slice(-limit * 2);
  const entries = await mapLimit(ids, 16, (id) => ledgerModel(db).findById(id).lean<LedgerEntry>());
  return entries
    .filter((e): e is LedgerEntry => e !== null && String(e.memberId) === String(memberId))
    .sort((a, b) => b.occurredAt.getTime() - a.occurredAt.getTime())
    .slice(0, limit);
}

/** Lists every entry recorded before the lists were kept (a migration, run once): one scan of the ledger. */
export async function backfillMemberEntries(db: Connection): Promise<number> {
  let done = 0;
  let batch: { _id: string; memberId?: Types.ObjectId }[] = [];
  const cursor = ledgerModel(db)
    .find({ memberId: { $exists: true } })
    .select({ memberId: 1 })
    .lean<{ _id: string; memberId?: Types.ObjectId }[]>()
    .cursor();
  for await (const entry of cursor) {
    batch.push(entry);
    if (batch.length === 500) {
      await listMemberEntries(db, batch);
      done += batch.length;
      batch = [];
    }
  }
  await listMemberEntries(db, batch);
  return done + batch.length;
}
