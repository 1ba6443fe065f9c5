import { type Connection, Schema, type Types } from 'mongoose';
import { registerAddressRecordModel } from './address-records.js';

export const EMAIL_STATUSES = ['pending', 'sending', 'sent', 'failed', 'suppressed'] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

/** What a message is for; decides whether suppression applies (see suppression.service.ts). */
export const EMAIL_KINDS = ['transactional', 'receipt'] as const;
export type EmailKind = (typeof EMAIL_KINDS)[number];

export interface EmailJob {
  _id: Types.ObjectId;
  idempotencyKey: string;
  template: string;
  kind: EmailKind;
  locale: string;
  to: { email: string; name?: string };
  data: Record<string, unknown>;
  listUnsubscribeUrl?: string;
  status: EmailStatus;
  attempts: number;
  /** The job's position in its lease chain (src/infra/leases.ts); never goes back (attempts do, on requeue). */
  claimSeq: number;
  nextAttemptAt: Date;
  lastError?: string;
  providerMessageId?: string;
  leaseOwner?: string;
  leaseExpiresAt?: Date;
  sentAt?: Date;
  deliveredAt?: Date;
  openedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface Suppression {
  _id: string;
  reason: 'bounce' | 'dropped' | 'spamreport' | 'unsubscribe';
  detail?: string;
  suppressedAt: Date;
}

export interface EmailEvent {
  _id: string;
  event: string;
  email: string;
  jobId?: string;
  occurredAt: Date;
  receivedAt: Date;
}

const emailJobSchema = new Schema<EmailJob>(
  {
    idempotencyKey: { type: String, required: true, unique: true },
    template: { type: String, required: true },
    kind: { type: String, enum: EMAIL_KINDS, required: true },
    locale: { type: String, required: true },
    to: {
      email: { type: String, required: true, index: true },
      name: { type: String },
    },
    data: { type: Schema.Types.Mixed, default: {} },
    listUnsubscribeUrl: { type: String },
    status: { type: String, enum: EMAIL_STATUSES, required: true, default: 'pending' },
    attempts: { type: Number, required: true, default: 0 },
    claimSeq: { type: Number, required: true, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    lastError: { type: String },
    providerMessageId: { type: String },
    leaseOwner: { type: String },
    leaseExpiresAt: { type: Date },
    sentAt: { type: Date },
    deliveredAt: { type: Date },
    openedAt: { type: Date },
  },
  { timestamps: true, minimize: false },
);

/** The job runner's queue name; due jobs are found through its markers (src/infra/due.ts). */
export const EMAIL_QUEUE = 'email';

const suppressionSchema = new Schema<Suppression>(
  {
    _id: { type: String }, // the lowercased address: one suppression per address
    reason: { type: String, enum: ['bounce', 'dropped', 'spamreport', 'unsubscribe'], required: true },
    detail: { type: String },
    suppressedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

/** Each SendGrid event once: sg_event_id is the key, retries and duplicates find it taken. */
const emailEventSchema = new Schema<EmailEvent>(
  {
    _id: { type: String }, // sg_event_id
    event: { type: String, required: true },
    email: { type: String, required: true },
    jobId: { type: String },
    occurredAt: { type: Date, required: true },
    receivedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export function registerEmailModels(db: Connection): void {
  registerAddressRecordModel(db);
  if (!db.models.EmailJob) db.model('EmailJob', emailJobSchema, 'email_jobs');
  if (!db.models.Suppression) db.model('Suppression', suppressionSchema, 'email_suppressions');
  if (!db.models.EmailEvent) db.model('EmailEvent', emailEventSchema, 'email_events');
}

export function emailModels(db: Connection) {
  return {
    EmailJob: db.model<EmailJob>('EmailJob'),
    Suppression: db.model<Suppression>('Suppression'),
    EmailEvent: db.model<EmailEvent>('EmailEvent'),
  };
}
