import type { Connection } from 'mongoose';
import { STRIPE_EVENT_QUEUE, stripeEventModel } from '../webhooks/stripe-event.model.js';
import { backfillCampaignTallies } from './campaigns/campaign.service.js';
import { backfillDayTallies } from './campaigns/day-figures.js';
import { archiveUnnotedCheckpoints } from './campaigns/drive-log/checkpoint.service.js';
import { backfillDriveLog, backfillOffsetLeaves, leafDataOf } from './campaigns/drive-log/log.service.js';
import { backfillPromises } from './campaigns/drive-log/promises.js';
import { backfillTiles } from './campaigns/drive-log/tile-backfill.js';
import { EMAIL_QUEUE, emailModels } from './email/email.model.js';
import {
  backfillGiftAddresses,
  backfillGiftDue,
  backfillGiftKeys,
  backfillOpenGifts,
} from './gifts/gift.model.js';
import { backfillDueMarkers } from './infra/due.js';
import type { Logger } from './infra/logger.js';
import { runOnce } from './infra/migrations.js';
import { backfillMemberEntries } from './ledger/member-entries.js';
import { backfillSettlementDue } from './ledger/settlement.service.js';
import { backfillGiftMemberEnds } from './memberships/gift-membership.js';
import { backfillMemberKeys, backfillMemberSubscriptions } from './memberships/member-keys.js';
import { MARKETING_SYNC_QUEUE, marketingSyncModel } from './newsletters/marketing-sync.model.js';
import { backfillReaderRecords } from './retention/reader-data.service.js';

// Every data migration, beside the model registry (src/models.ts) whose documents they bring up to
// date. Each runs once per database, in this order, recorded by its name (src/infra/migrations.ts).
// A new one goes at the end; a name is never reused.

/** Brings data from before a version up to date, once per database (infra/migrations.ts). */
export async function migrate(db: Connection, logger: Logger): Promise<void> {
  const members = await runOnce(db, 'member-keys', () => backfillMemberKeys(db));
  if (members) logger.info({ members }, 'gave existing members their lookup keys');
  const marks = await runOnce(db, 'campaign-tallies', () => backfillCampaignTallies(db));
  if (marks) logger.info({ marks }, 'tallied existing campaign contributions');
  const subscriptions = await runOnce(db, 'member-subscriptions', () => backfillMemberSubscriptions(db));
  if (subscriptions) logger.info({ subscriptions }, 'listed existing subscriptions under their members');
  const gifts = await runOnce(db, 'gift-keys', () => backfillGiftKeys(db));
  if (gifts) logger.info({ gifts }, 'gave existing gifts their lookup keys');
  const { EmailJob } = emailModels(db);
  const queued = await runOnce(db, 'due-markers', async () => {
    const emails = await backfillDueMarkers(db, EMAIL_QUEUE, EmailJob as never, ['pending', 'sending']);
    const syncs = await backfillDueMarkers(db, MARKETING_SYNC_QUEUE, marketingSyncModel(db) as never, [
      'pending',
      'running',
    ]);
    return emails + syncs;
  });
  if (queued) logger.info({ queued }, 'marked queued jobs due');
  // Before events were applied from a queue, a failed one waited for Stripe to send it again.
  const events = await runOnce(db, 'stripe-event-queue', async () => {
    const StripeEvent = stripeEventModel(db);
    await StripeEvent.updateMany(
      { status: { $in: ['received', 'failed'] } },
      { $set: { status: 'received', attempts: 0, claimSeq: 0, nextAttemptAt: new Date() } },
    );
    return backfillDueMarkers(db, STRIPE_EVENT_QUEUE, StripeEvent as never, ['received']);
  });
  if (events) logger.info({ events }, 'queued stripe events that were not applied');
  const leaves = await runOnce(db, 'drive-log', () => backfillDriveLog(db));
  if (leaves) logger.info({ leaves }, 'logged existing campaign contributions in the drive log');
  const unsettled = await runOnce(db, 'settlement-due', () => backfillSettlementDue(db));
  if (unsettled) logger.info({ unsettled }, 'listed unsettled ledger entries for the settlement sweep');
  const archived = await runOnce(db, 'signed-note-checkpoints', () => archiveUnnotedCheckpoints(db));
  if (archived) logger.info({ archived }, 'archived checkpoints signed before signed notes (ADR 0014)');
  const readerRecords = await runOnce(db, 'address-records', () => backfillReaderRecords(db));
  if (readerRecords) logger.info({ readerRecords }, "listed existing readers' records under their addresses");
  // The count became a function of the drive log alone: each campaign's offset is its log's leaf.
  const offsets = await runOnce(db, 'drive-log-offsets', () => backfillOffsetLeaves(db));
  if (offsets) logger.info({ offsets }, "gave existing campaigns' drive logs their offset leaf");
  // Leaves prove themselves: each carries the log's signed promise (drive-log/promises.ts).
  const promised = await runOnce(db, 'drive-log-promises', () => backfillPromises(db, leafDataOf));
  if (promised) logger.info({ promised }, 'signed promises for existing drive log leaves');
  // A reader's data export lists their gifts too (docs/privacy.md).
  const giftAddresses = await runOnce(db, 'gift-addresses', () => backfillGiftAddresses(db));
  if (giftAddresses) logger.info({ giftAddresses }, 'listed existing gifts under their addresses');
  // Proofs read stored tiles of interior hashes (drive-log/tile-store.ts), not every leaf.
  const tiles = await runOnce(db, 'drive-log-tiles', () => backfillTiles(db));
  if (tiles) logger.info({ tiles }, "stored tiles of existing drive logs' interior hashes");
  // A member's page reads their ledger entries by primary key (ledger/member-entries.ts).
  const memberEntries = await runOnce(db, 'member-entries', () => backfillMemberEntries(db));
  if (memberEntries) logger.info({ memberEntries }, 'listed existing ledger entries under their members');
  // The Slack daily total reads a campaign's day from per-day tallies (campaigns/day-figures.ts).
  const dayMarks = await runOnce(db, 'campaign-day-tallies', () => backfillDayTallies(db));
  if (dayMarks) logger.info({ dayMarks }, 'tallied existing contributions and revocations by day');
  // The per-minute gift delivery reads its list of paid gifts, never the gifts (gifts/README.md).
  const giftsDue = await runOnce(db, 'gift-due', () => backfillGiftDue(db));
  if (giftsDue) logger.info({ giftsDue }, 'listed paid gifts for delivery');
  // The hourly sweep reads its list of delivered gifts, never the gifts (gifts/README.md).
  const giftsOpen = await runOnce(db, 'gift-open', () => backfillOpenGifts(db));
  if (giftsOpen) logger.info({ giftsOpen }, 'listed delivered gifts for reminders and expiry');
  // And its list of gift members' ends, never the members (memberships/README.md).
  const giftMembers = await runOnce(db, 'gift-member-ends', () => backfillGiftMemberEnds(db));
  if (giftMembers) logger.info({ giftMembers }, 'listed gift members by the end of their gift time');
}
