import type { Connection } from 'mongoose';
import type { EmailKind } from './email.model.js';
import { emailModels } from './email.model.js';

export type SuppressionReason = 'bounce' | 'dropped' | 'spamreport' | 'unsubscribe';

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export async function suppressAddress(
  db: Connection,
  input: { email: string; reason: SuppressionReason; detail?: string; at: Date },
): Promise<void> {
  const { Suppression } = emailModels(db);
  await Suppression.updateOne(
    { _id: normalizeEmail(input.email) },
    { $setOnInsert: { reason: input.reason, detail: input.detail?.slice(0, 500), suppressedAt: input.at } },
    { upsert: true },
  );
}

/**
 * The suppression rule. A suppressed address gets no further mail, with one exception: a receipt
 * for money the reader paid still goes to an address that unsubscribed or reported spam, because
 * it is a record they are owed. Receipts do not go to addresses that bounced or were dropped:
 * they cannot be delivered, and trying hurts the sender reputation everyone's mail depends on.
 */
export async function suppressionBlocking(
  db: Connection,
  email: string,
  kind: EmailKind,
): Promise<SuppressionReason | undefined> {
  const { Suppression } = emailModels(db);
  // Read on every sign-up and every email sent: a plain driver read, no mongoose query to build.
  const suppression = await Suppression.collection.findOne({ _id: normalizeEmail(email) } as never);
  if (!suppression) return undefined;
  const reason = suppression.reason as SuppressionReason;
  if (kind === 'receipt' && (reason === 'unsubscribe' || reason === 'spamreport')) return undefined;
  return reason;
}
