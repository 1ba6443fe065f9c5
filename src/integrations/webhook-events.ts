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

export interface WebhookMessage {
  type: WebhookEventType;
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
};

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as WebhookEventType[];

/** The event types the issue names that the domain does not publish yet (README.md, "Not yet"). */
export const NOT_YET_PUBLISHED = [
  'member.renewed',
  'newsletter.confirmed',
  'newsletter.unsubscribed',
  'campaign.milestone',
  'sponsorship.granted',
] as const;

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
