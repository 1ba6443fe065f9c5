import { type Connection, Schema } from 'mongoose';

export type SubscriptionStatus = 'pending' | 'confirmed' | 'unsubscribed';

/** One reader on one list. The _id is `${list}:${email}`, so every change is a lookup by id. */
export interface NewsletterSubscription {
  _id: string;
  list: string;
  email: string;
  name?: string;
  locale: string;
  status: SubscriptionStatus;
  requestedAt: Date;
  confirmedAt?: Date;
  unsubscribedAt?: Date;
}

/** What the reader agreed to, when, where and how: written once per opt-in or opt-out, never changed. */
export interface ConsentRecord {
  email: string;
  list: string;
  action: 'opt_in_requested' | 'confirmed' | 'unsubscribed';
  at: Date;
  sourcePage?: string;
  ip?: string;
  userAgent?: string;
  consentTextVersion?: string;
  /** Brought from another provider's export (src/imports/): `at` and `ip` are that provider's. */
  imported?: boolean;
}

/** A confirmation link's token, stored as its SHA-256 only. */
export interface ConfirmationToken {
  _id: string;
  email: string;
  lists: string[];
  expiresAt: Date;
  /** The sign-up that stored it: its id and the lists it asked to confirm (opt-in.service.ts). */
  request?: { by: string; asked: string[] };
}

const subscriptionSchema = new Schema<NewsletterSubscription>(
  {
    _id: String,
    list: { type: String, required: true },
    email: { type: String, required: true, index: true },
    name: String,
    locale: { type: String, required: true },
    status: { type: String, required: true },
    requestedAt: { type: Date, required: true },
    confirmedAt: Date,
    unsubscribedAt: Date,
  },
  { versionKey: false },
);

const consentSchema = new Schema<ConsentRecord>(
  {
    email: { type: String, required: true, index: true },
    list: { type: String, required: true },
    action: { type: String, required: true },
    at: { type: Date, required: true },
    sourcePage: String,
    ip: String,
    userAgent: String,
    consentTextVersion: String,
    imported: Boolean,
  },
  { versionKey: false },
);

const tokenSchema = new Schema<ConfirmationToken>(
  {
    _id: String,
    email: { type: String, required: true },
    lists: [String],
    expiresAt: { type: Date, required: true },
    request: { by: String, asked: [String] },
  },
  { versionKey: false },
);

export function registerNewsletterModels(db: Connection): void {
  if (!db.models.NewsletterSubscription)
    db.model('NewsletterSubscription', subscriptionSchema, 'newsletter_subscriptions');
  if (!db.models.ConsentRecord) db.model('ConsentRecord', consentSchema, 'newsletter_consents');
  if (!db.models.ConfirmationToken) db.model('ConfirmationToken', tokenSchema, 'newsletter_tokens');
}

export const newsletterModels = (db: Connection) => ({
  Subscription: db.model<NewsletterSubscription>('NewsletterSubscription'),
  Consent: db.model<ConsentRecord>('ConsentRecord'),
  Token: db.model<ConfirmationToken>('ConfirmationToken'),
});
