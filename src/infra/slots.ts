import type { Model } from 'mongoose';
import { isDuplicateKey } from './db.js';

// An append-only list under one key, kept as documents `<key>#0`, `<key>#1`, …: appending is an
// insert with a unique `_id` (the one atomic primitive on every backend we run on) and reading is
// a walk of primary-key lookups, so neither scans a collection. Slots never change once written.

const slotId = (key: string, n: number) => `${key}#${n}`;

/** Every item under `key`, in the order they were appended. */
export async function readSlots<T extends { _id: string }>(model: Model<T>, key: string): Promise<T[]> {
  const items: T[] = [];
  for (;;) {
    const item = await model.findById(slotId(key, items.length)).lean<T>();
    if (!item) return items;
    items.push(item);
  }
}

/**
 * Appends `item` under `key` unless `isSame` finds it there already. Two racing appends of the same
 * item may both land (harmless for readers that take the newest or dedupe); none is ever lost.
 */
export async function appendSlot<T extends { _id: string }>(
  model: Model<T>,
  key: string,
  item: Omit<T, '_id'>,
  isSame: (stored: T) => boolean,
): Promise<void> {
  const items = await readSlots(model, key);
  if (items.some(isSame)) return;
  for (let n = items.length; ; n++) {
    try {
      await model.create({ ...item, _id: slotId(key, n) } as unknown as T);
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }
}
