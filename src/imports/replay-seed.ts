import type { Connection } from 'mongoose';
import { type Gift, giftModel } from '../gifts/gift.model.js';
import { ledgerModel, paymentLinkModel, refundStepModel } from '../ledger/ledger.model.js';
import { membershipModels } from '../memberships/membership.model.js';
import { insertUnique } from './bulk.js';

// `npm run stripe:replay` rebuilds members, subscriptions and the ledger from stored Stripe events
// alone; what an import brought never came as an event. So a replay starts from the imported
// records (copied from the live database into its scratch one), and the events received since
// are applied on top of them, as they were live. A scan of each collection: a CLI's cost, once.

export async function copyImportedRecords(live: Connection, scratch: Connection): Promise<void> {
  const from = membershipModels(live);
  const to = membershipModels(scratch);
  // Members a redeemed gift made came from our own pages, not from an event, as imported ones did.
  const members = await from.Member.find({ source: { $in: ['imported', 'gift'] } }).lean();
  const memberIds = new Set(members.map((m) => String(m._id)));
  await insertUnique(to.Member.collection, members);
  const keys = await live.collection('member_keys').find().toArray();
  await insertUnique(
    scratch.collection('member_keys'),
    keys.filter((k) => memberIds.has(String(k.memberId))),
  );
  const subscriptions = await from.Subscription.find({ source: 'imported' }).lean();
  await insertUnique(to.Subscription.collection, subscriptions);
  const adopted = new Set(subscriptions.map((s) => s._id));
  const observations = await from.SubscriptionObservation.find().lean();
  await insertUnique(
    to.SubscriptionObservation.collection,
    observations.filter((o) => o.eventId === `import:${o.subscriptionId}`),
  );
  // An imported member's list of subscriptions starts with the adopted ones (slots #0, #1, …).
  const lists = await from.MemberSubscription.find().lean();
  await insertUnique(
    to.MemberSubscription.collection,
    lists.filter((l) => memberIds.has(l._id.split('#')[0]!) && adopted.has(l.subscriptionId)),
  );
  const entries = await ledgerModel(live).find({ source: 'imported' }).lean();
  const entryIds = new Set(entries.map((e) => e._id));
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
