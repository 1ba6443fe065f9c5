import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import { findMemberByCustomer } from '../memberships/member-keys.js';
import type { DomainEventMap } from '../shared/domain-events.js';

// Which domain events leave the service as webhooks, and what each one says. A payload is built
// from the event's facts only, so a domain event published again (they are, at least once) makes
// the same body and the same `webhook-id`. Payloads carry ids, amounts and times, never an email
// address or a name: a receiver that needs the person asks the newsroom's own records. The list of
// events and their payloads is also in README.md and the OpenAPI document (webhooks.docs.ts).

/** The payload schema version; a breaking change to any payload makes it 2. */
export const PAYLOAD_VERSION = 1;

/** Not a domain event: the day's total the Slack preset posts (daily-totals.ts). */
export const DAILY_TOTAL = 'campaign.daily_total';

export interface WebhookMessage {
  type: WebhookEventType | typeof DAILY_TOTAL;
  /** Identifies the fact: the same fact published twice is one message. */
  key: string;
  timestamp: Date;
  data: Record<string, unknown>;
}

interface EventDefinition<K extends keyof DomainEventMap> {
  key(event: DomainEventMap[K]): string;
  timestamp(event: DomainEventMap[K]): Date;
  data(event: DomainEventMap[K], db: Connection): Promise<Record<string, unknown>> | Record<string, unknown>;
}

const define = <K extends keyof DomainEventMap>(definition: EventDefinition<K>) => definition;
const iso = (d: Date) => d.toISOString();

/** Every webhook event type, from the domain event of the same name. */
export const WEBHOOK_EVENTS = {
  'member.joined': define<'member.joined'>({
    key: (e) => e.memberId,
    timestamp: (e) => e.joinedAt,
    data: (e) => ({
      memberId: e.memberId,
      joinedAt: iso(e.joinedAt),
      source: e.source,
      campaign: e.campaign ?? null,
      paid: e.paid !== false,
    }),
  }),
  'member.canceled': define<'member.canceled'>({
    key: (e) => `${e.memberId}:${e.endedAt.getTime()}`,
    timestamp: (e) => e.endedAt,
    data: (e) => ({ memberId: e.memberId, endedAt: iso(e.endedAt) }),
  }),
  'member.payment_failed': define<'member.payment_failed'>({
    key: (e) => e.invoiceId,
    timestamp: (e) => e.occurredAt,
    data: async (e, db) => ({
      memberId: await findMemberByCustomer(db, e.customerId).then((m) => (m ? String(m._id) : null)),
      invoiceId: e.invoiceId,
      amount: e.amount,
      currency: e.currency,
    }),
  }),
  'gift.purchased': define<'gift.purchased'>({
    key: (e) => e.giftId,
    timestamp: (e) => e.paidAt,
    data: (e) => ({
      giftId: e.giftId,
      durationMonths: e.durationMonths,
      amount: e.amount,
      currency: e.currency,
      campaign: e.campaign ?? null,
    }),
  }),
  'gift.redeemed': define<'gift.redeemed'>({
    key: (e) => e.giftId,
    timestamp: (e) => e.redeemedAt,
    data: (e) => ({ giftId: e.giftId, memberId: e.memberId, redeemedAt: iso(e.redeemedAt) }),
  }),
  'member.renewed': define<'member.renewed'>({
    key: (e) => e.invoiceId,
    timestamp: (e) => e.renewedAt,
    data: (e) => ({
      memberId: e.memberId,
      invoiceId: e.invoiceId,
      subscriptionId: e.subscriptionId,
      amount: e.amount,
      currency: e.currency,
      renewedAt: iso(e.renewedAt),
      periodEnd: e.periodEnd ? iso(e.periodEnd) : null,
    }),
  }),
  // Newsletter events name the consent record and the list, never the address.
  'newsletter.confirmed': define<'newsletter.confirmed'>({
    key: (e) => `${e.confirmation}:${e.list}`,
    timestamp: (e) => e.confirmedAt,
    data: (e) => ({ consentId: e.consentId, list: e.list, confirmedAt: iso(e.confirmedAt) }),
  }),
  'newsletter.unsubscribed': define<'newsletter.unsubscribed'>({
    key: (e) => e.subscription,
    timestamp: (e) => e.unsubscribedAt,
    data: (e) => ({ consentId: e.consentId, list: e.list, unsubscribedAt: iso(e.unsubscribedAt) }),
  }),
  'campaign.milestone': define<'campaign.milestone'>({
    key: (e) => `${e.campaignId}:${e.percent}`,
    timestamp: (e) => e.reachedAt,
    data: (e) => ({
      campaignId: e.campaignId,
      campaign: e.slug,
      title: e.title,
      percent: e.percent,
      count: e.count,
      goal: e.goal,
      reachedAt: iso(e.reachedAt),
    }),
  }),
  'sponsorship.granted': define<'sponsorship.granted'>({
    key: (e) => e.requestId,
    timestamp: (e) => e.grantedAt,
    data: (e) => ({
      requestId: e.requestId,
      campaign: e.campaign ?? null,
      durationMonths: e.durationMonths,
      amount: e.amount,
      currency: e.currency,
      grantedAt: iso(e.grantedAt),
    }),
  }),
};

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as WebhookEventType[];

export async function messageOf<K extends WebhookEventType>(
  type: K,
  event: DomainEventMap[K],
  db: Connection,
): Promise<WebhookMessage> {
  const definition = WEBHOOK_EVENTS[type] as unknown as EventDefinition<K>;
  return {
    type,
    key: `${type}:${definition.key(event)}`,
    timestamp: definition.timestamp(event),
    data: await definition.data(event, db),
  };
}

/** The Standard Webhooks `webhook-id` of a message: derived from its key, so stable across re-publication. */
export const webhookIdOf = (message: Pick<WebhookMessage, 'key'>) =>
  `msg_${createHash('sha256').update(message.key).digest('base64url').slice(0, 27)}`;

/** The JSON body: `type`, `version`, `timestamp`, `data` (Standard Webhooks' recommended shape, versioned). */
export const bodyOf = (message: WebhookMessage) =>
  JSON.stringify({
    type: message.type,
    version: PAYLOAD_VERSION,
    timestamp: iso(message.timestamp),
    data: message.data,
  });
