import { type Connection, Schema, type Types } from 'mongoose';

/** One change to push to SendGrid Marketing: add a confirmed reader to a list, or remove them. */
export interface MarketingSyncJob {
  _id: Types.ObjectId;
  key: string; // unique: the same change enqueued twice is one job
  email: string;
  name?: string;
  listId: string; // SendGrid's list id
  action: 'add' | 'remove';
  status: 'pending' | 'running' | 'done' | 'failed';
  attempts: number;
  claimSeq: number;
  nextAttemptAt: Date;
  lastError?: string;
}

const schema = new Schema<MarketingSyncJob>(
  {
    key: { type: String, required: true, unique: true },
    email: { type: String, required: true },
    name: String,
    listId: { type: String, required: true },
    action: { type: String, required: true },
    status: { type: String, required: true },
    attempts: { type: Number, required: true, default: 0 },
    claimSeq: { type: Number, required: true, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    lastError: String,
  },
  { timestamps: true },
);

/** The job runner's queue name; due jobs are found through its markers (src/infra/due.ts). */
export const MARKETING_SYNC_QUEUE = 'marketing-sync';

export function registerMarketingSyncModel(db: Connection): void {
  if (!db.models.MarketingSyncJob) db.model('MarketingSyncJob', schema, 'marketing_sync_jobs');
}

export const marketingSyncModel = (db: Connection) => db.model<MarketingSyncJob>('MarketingSyncJob');
