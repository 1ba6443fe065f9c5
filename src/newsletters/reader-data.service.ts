import type { Connection } from 'mongoose';
import { emailModels } from '../email/email.model.js';
import { eraseAddressFromTemporaryRecords } from '../retention/retention.service.js';
import { type NewsletterSubscription, newsletterModels } from './newsletter.model.js';

// What we hold about a newsletter reader, found by address: for their data export and erasure.

/** Every subscription of the address, lists no longer configured too: for data export and erasure (a scan). */
export async function subscriptionsOf(db: Connection, email: string) {
  return newsletterModels(db).Subscription.find({ email }).sort({ list: 1 }).lean<NewsletterSubscription[]>();
}

/** Everything we hold about a newsletter reader: what they subscribed to and every consent record. */
export async function exportReaderData(db: Connection, email: string) {
  const { Consent } = newsletterModels(db);
  const [subscriptions, consents, emails] = await Promise.all([
    subscriptionsOf(db, email),
    Consent.find({ email }).sort({ at: 1 }).select({ _id: 0 }).lean(),
    emailModels(db)
      .EmailJob.find({ 'to.email': email, template: /^newsletter-/ })
      .select({ template: 1, status: 1, createdAt: 1, _id: 0 })
      .lean(),
  ]);
  return {
    email,
    subscriptions: subscriptions.map(({ _id, ...rest }) => rest),
    consents,
    emails,
  };
}

/** Erases a newsletter reader: subscriptions, consent records, tokens, newsletter mail, and the address in temporary records. */
export async function deleteReaderData(db: Connection, email: string): Promise<void> {
  const { Subscription, Consent, Token } = newsletterModels(db);
  await Promise.all([
    Subscription.deleteMany({ email }),
    Consent.deleteMany({ email }),
    Token.deleteMany({ email }),
    emailModels(db).EmailJob.deleteMany({ 'to.email': email, template: /^newsletter-/ }),
    eraseAddressFromTemporaryRecords(db, email),
  ]);
}
