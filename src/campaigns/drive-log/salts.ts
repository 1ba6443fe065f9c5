import type { Connection } from 'mongoose';
import { ledgerModel } from '../../ledger/ledger.model.js';
import { campaignModels } from '../campaign.model.js';
import { originOf } from './checkpoint.service.js';
import { type LogLeaf, leafId, transparencyModels } from './log.model.js';
import { logSize } from './log.service.js';

// The private side of the auditor's check (README, "The auditor's check"): each addition leaf's
// record id and salt, which open its commitment, and the Stripe payment that made it count. Given
// to an auditor privately with a restricted Stripe key, it lets them check (`bin/audit-drive.mjs`)
// that every addition is a real, unrefunded payment; published, it would link members to leaves.

export const SALTS_FORMAT = 'membership-drive salts v1';

export interface SaltEntry {
  index: number;
  /** What the commitment hashes: `<campaign>:member:<id>`, `<campaign>:gift:<id>`, `<campaign>:one_time:<entry>`. */
  recordId: string;
  salt: string;
  /** The Stripe PaymentIntent (`pi_…`) or charge (`ch_…`) behind it; null when none is known. */
  payment: string | null;
}

export interface SaltsExport {
  format: string;
  campaign: string;
  slug: string;
  origin?: string;
  exportedAt: string;
  entries: SaltEntry[];
}

/**
 * Every addition leaf of the campaign's log with its salt and payment. `paymentOfGift` answers a
 * gift's PaymentIntent (the gifts capability sits above this one, so the command passes it in).
 * An offline staff command: it reads every leaf and, when members are counted, scans the ledger once.
 */
export async function exportSalts(
  db: Connection,
  slug: string,
  paymentOfGift: (giftId: string) => Promise<string | undefined>,
  now: Date = new Date(),
): Promise<SaltsExport | undefined> {
  const campaign = await campaignModels(db).Campaign.findOne({ slug }).select({ _id: 1 }).lean();
  if (!campaign) return undefined;
  const campaignId = String(campaign._id);
  const { Leaf, Checkpoint } = transparencyModels(db);
  const size = await logSize(db, campaignId);
  const additions: LogLeaf[] = [];
  for (let index = 0; index < size; index++) {
    const leaf = await Leaf.findById(leafId(campaignId, index)).lean<LogLeaf>();
    if (leaf?.kind === 'add') additions.push(leaf);
  }
  const firstPayments = additions.some((leaf) => leaf.recordId.includes(':member:'))
    ? await firstPaymentOfMembers(db)
    : new Map<string, string>();
  const entries: SaltEntry[] = [];
  for (const leaf of additions) {
    const [, kind, id] = leaf.recordId.split(':');
    let payment: string | undefined;
    if (kind === 'member') payment = firstPayments.get(id!);
    else if (kind === 'gift') payment = await paymentOfGift(id!);
    else if (kind === 'one_time') {
      const entry = await ledgerModel(db).findById(id).lean();
      payment = entry?.paymentIntentId ?? entry?.chargeId;
    }
    entries.push({ index: leaf.index, recordId: leaf.recordId, salt: leaf.salt, payment: payment ?? null });
  }
  const first = await Checkpoint.findById(`${campaignId}#0`).lean();
  return {
    format: SALTS_FORMAT,
    campaign: campaignId,
    slug,
    ...(first ? { origin: originOf(first) } : {}),
    exportedAt: now.toISOString(),
    entries,
  };
}

/** Each member's first payment with money (what counted them): its PaymentIntent, else its charge. */
async function firstPaymentOfMembers(db: Connection): Promise<Map<string, string>> {
  const first = new Map<string, { at: number; payment?: string }>();
  const cursor = ledgerModel(db)
    .find({ amount: { $gt: 0 } })
    .select({ memberId: 1, occurredAt: 1, paymentIntentId: 1, chargeId: 1 })
    .lean()
    .cursor();
  for await (const entry of cursor) {
    if (!entry.memberId) continue;
    const memberId = String(entry.memberId);
    const at = entry.occurredAt.getTime();
    const known = first.get(memberId);
    if (!known || at < known.at)
      first.set(memberId, { at, payment: entry.paymentIntentId ?? entry.chargeId });
  }
  const out = new Map<string, string>();
  for (const [memberId, { payment }] of first) if (payment) out.set(memberId, payment);
  return out;
}
