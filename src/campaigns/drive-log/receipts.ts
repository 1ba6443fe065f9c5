import type { Connection } from 'mongoose';
import { type Campaign, campaignModels } from '../campaign.model.js';
import { receiptOf } from './log.service.js';

export interface MemberReceipt {
  campaignTitle: string;
  slug: string;
  /** `<record id>~<salt>`: what the member pastes into the verify page or the verifier script. */
  receipt: string;
  /**
   * The log's signed promise that the member's leaf is in a checkpoint by its `merge_by`
   * (promises.ts): the member keeps it, and the verifier refuses a log that did not keep it.
   */
  promise?: string;
  /** The verify page with receipt and promise after `#`, which the browser never sends to a server. */
  verifyUrl: string;
}

/**
 * A member's receipts, one per campaign that counted them: each is a primary-key lookup of the
 * contribution's leaf (campaigns are few; their list is the only read that is not by `_id`).
 */
export async function receiptsOfMember(
  db: Connection,
  memberId: string,
  publicBaseUrl: string,
): Promise<MemberReceipt[]> {
  const campaigns = await campaignModels(db)
    .Campaign.find()
    .select({ slug: 1, title: 1, startsAt: 1 })
    .sort({ startsAt: -1 })
    .lean<Campaign[]>();
  const receipts: MemberReceipt[] = [];
  for (const campaign of campaigns) {
    const found = await receiptOf(db, campaign._id, `${campaign._id}:member:${memberId}`);
    if (!found) continue;
    const promise = found.promise ? `&promise=${encodeURIComponent(found.promise)}` : '';
    receipts.push({
      campaignTitle: campaign.title,
      slug: campaign.slug,
      receipt: found.receipt,
      ...(found.promise ? { promise: found.promise } : {}),
      verifyUrl: `${publicBaseUrl}/campaigns/${campaign.slug}/verify#receipt=${encodeURIComponent(found.receipt)}${promise}`,
    });
  }
  return receipts;
}
