import { Types } from 'mongoose';
import { verifyDrive } from '../../bin/drive-verify-core.mjs';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { countGift, countNewMember, revokeGift } from '../../src/campaigns/campaign.service.js';
import { signCheckpoint } from '../../src/campaigns/drive-log/checkpoint.service.js';
import { ensureStartingOffset } from '../../src/campaigns/drive-log/log.service.js';
import { createSigner } from '../../src/campaigns/drive-log/signing.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import type { TestApp } from '../support/test-app.js';

// What the drive-log tests share: a campaign around the test clock, the ways a count changes (a
// member joins, a gift is paid, either is refunded), checkpoints, and the standalone verifier
// pointed at the running app over HTTP.

export const depsOf = (app: TestApp) => ({
  db: app.deps.db,
  clock: app.deps.clock,
  logger: app.deps.logger,
  signer: createSigner(app.deps.config.transparency.keys),
  checkpointMs: app.deps.config.transparency.checkpointMs,
  afterEndMs: app.deps.config.transparency.afterEndMs,
  publicBaseUrl: app.deps.config.http.publicBaseUrl,
});

let made = 0;
/** A campaign around the test clock, its log opened with its offset leaf as the campaign writer does. */
export async function newCampaign(app: TestApp, fields: Partial<Campaign> = {}): Promise<Campaign> {
  const now = app.deps.clock.now().getTime();
  made++;
  const campaign = (
    await campaignModels(app.deps.db).Campaign.create({
      slug: `drive-${made}-${Math.random().toString(36).slice(2, 8)}`,
      title: 'Our birthday drive',
      goal: 1000,
      startsAt: new Date(now - 10 * 86_400_000),
      endsAt: new Date(now + 10 * 86_400_000),
      timeZone: 'UTC',
      startingOffset: 0,
      ...fields,
    })
  ).toObject();
  await ensureStartingOffset(app.deps.db, campaign, app.deps.clock.now());
  return campaign;
}

export const checkpoint = (app: TestApp, campaign: Campaign) =>
  signCheckpoint(depsOf(app), campaign, { force: true });

/** A new member joins (as memberships publish it); answers their id. */
export async function memberJoins(app: TestApp, at: Date): Promise<string> {
  const memberId = String(new Types.ObjectId());
  await ledgerModel(app.deps.db).create({
    _id: `in_${memberId}`,
    kind: 'subscription_payment',
    amount: 500,
    currency: 'eur',
    occurredAt: at,
    day: at.toISOString().slice(0, 10),
    month: at.toISOString().slice(0, 7),
    memberId: new Types.ObjectId(memberId),
    billingReason: 'subscription_create',
    recordedAt: at,
  });
  await countNewMember(app.deps, {
    memberId,
    email: `${memberId}@example.com`,
    joinedAt: at,
    source: 'checkout',
  });
  return memberId;
}

/** The member's first payment is refunded in full (as the ledger publishes it). */
export async function memberRefunded(app: TestApp, memberId: string, at: Date): Promise<void> {
  await app.deps.events.publish('ledger.recorded', {
    entryId: `refund:${memberId}`,
    kind: 'refund',
    memberId,
    amount: -500,
    currency: 'eur',
    occurredAt: at,
    reverses: `in_${memberId}`,
    fullRefund: true,
  });
}

export const giftPaid = (app: TestApp, giftId: string, at: Date) =>
  countGift(app.deps, { giftId, paidAt: at });
export const giftRefunded = (app: TestApp, giftId: string, at: Date) => revokeGift(app.deps, giftId, at);

export function fetchFrom(app: TestApp) {
  return async (path: string) => {
    const response = await fetch(`${app.url}${path}`, { headers: { accept: 'application/json' } });
    if (!response.ok) return { status: response.status };
    return response.json();
  };
}

export const verify = (app: TestApp, campaign: Campaign, receipt?: string) =>
  verifyDrive({ fetchJson: fetchFrom(app), slug: campaign.slug, receipt, now: app.deps.clock.now() });
