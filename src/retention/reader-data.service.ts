import type { Connection } from 'mongoose';
import { emailModels } from '../email/email.model.js';
import { newsletterModels } from '../newsletters/newsletter.model.js';
import { subscriptionsOf } from '../newsletters/newsletter.service.js';
import { eraseAddressFromTemporaryRecords } from './retention.service.js';

// What we hold about a reader, found by address: for their data export and erasure, which reach
// past newsletters into email and the temporary records retention sweeps.

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
