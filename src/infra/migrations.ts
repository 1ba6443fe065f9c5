import { type Connection, Schema } from 'mongoose';
import { isDuplicateKey } from './db.js';

// Data written before a version learned to keep something (a lookup key, a tally) is brought up to
// date once per database, at start. Each step is idempotent, so processes starting together, or one
// that dies half-way, only repeat work; the mark is written after the step has finished.

interface Migration {
  _id: string;
  doneAt: Date;
}

const migrationSchema = new Schema<Migration>(
  { _id: String, doneAt: { type: Date, required: true } },
  { versionKey: false },
);

export function registerMigrationModel(db: Connection): void {
  if (!db.models.Migration) db.model('Migration', migrationSchema, 'migrations');
}

/** Runs `step` unless this database has finished it before; returns what it returned, or undefined. */
export async function runOnce<T>(
  db: Connection,
  name: string,
  step: () => Promise<T>,
): Promise<T | undefined> {
  const Migrations = db.model<Migration>('Migration');
  if (await Migrations.exists({ _id: name })) return undefined;
  const result = await step();
  // Processes starting together both run the step (it is idempotent) and both mark it: an upsert
  // is an insert when nothing is there, so the second may meet the first one's mark. Done either way.
  await Migrations.updateOne({ _id: name }, { $set: { doneAt: new Date() } }, { upsert: true }).catch(
    (error: unknown) => {
      if (!isDuplicateKey(error)) throw error;
    },
  );
  return result;
}
