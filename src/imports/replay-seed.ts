import type { Connection } from 'mongoose';
import { type Gift, giftModel } from '../gifts/gift.model.js';
import { insertUnique } from '../infra/bulk.js';
import { ledgerModel, paymentLinkModel, refundStepModel } from '../ledger/ledger.model.js';
import { listMemberEntries } from '../ledger/member-entries.js';
import { copyImportedMembers } from '../memberships/member-import.js';

// `npm run stripe:replay` rebuilds members, subscriptions and the ledger from stored Stripe events
// alone; what an import brought never came as an event. So a replay starts from the imported
// records (copied from the live database into its scratch one: memberships copies its own,
// member-import.ts), and the events received since are applied on top of them, as they were live.
// A scan of each collection: a CLI's cost, once.

export async function copyImportedRecords(live: Connection, scratch: Connection): Promise<void> {
  await copyImportedMembers(live, scratch);
  const entries = await ledgerModel(live).find({ source: 'imported' }).lean();
  const entryIds = new Set(entries.map((e) => e._id));
  await listMemberEntries(scratch, entries);
  await insertUnique(ledgerModel(scratch).collection, entries);
  const links = await paymentLinkModel(live).find().lean();
  await insertUnique(
    paymentLinkModel(scratch).collection,
    links.filter((l) => entryIds.has(l.entryId)),
  );
  // A refund made before the import is the first step of its charge's chain.
  const steps = entries.filter((e) => e.kind === 'refund' && e.chargeId).map((e) => `${e.chargeId}:0`);
  for (const id of steps) {
    const step = await refundStepModel(live).findById(id).lean();
    if (step) await insertUnique(refundStepModel(scratch).collection, [step]);
  }
}

/**
 * Gifts as bought: our checkout stores each gift before Stripe has an event about it, and the
 * payment's event fulfils that gift (no gift: the event is ignored, and replay would miss its money).
 * So replay starts from every gift as it stood before payment, and its events pay and refund it again.
 */
export async function copyGiftsAsBought(live: Connection, scratch: Connection): Promise<void> {
  const gifts = await giftModel(live).find().lean<Gift[]>();
  await insertUnique(
    giftModel(scratch).collection,
    gifts.map(
      ({
        paidAt: _paidAt,
        paymentIntentId: _paymentIntentId,
        codeHash: _codeHash,
        deliveredAt: _deliveredAt,
        redeemedAt: _redeemedAt,
        redeemedBy: _redeemedBy,
        expiresAt: _expiresAt,
        refundedAt: _refundedAt,
        ...bought
      }) => ({ ...bought, status: 'pending_payment' as const }),
    ),
  );
}
