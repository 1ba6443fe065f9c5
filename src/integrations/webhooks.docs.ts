import { z } from 'zod';
import type { ApiDocs } from '../http/openapi.js';
import { PAYLOAD_VERSION, type WebhookEventType } from './webhook-events.js';

// The payload of each webhook event, as zod schemas: the OpenAPI document's `webhooks` section is
// generated from them, and the tests check every delivered body against them.

const id = z.string().meta({ example: '6750f0c2a1b2c3d4e5f60718' });
const money = {
  amount: z.number().int().meta({ description: 'Minor units' }),
  currency: z.string().length(3),
};

const DATA: Record<WebhookEventType, z.ZodObject> = {
  'member.joined': z.object({
    memberId: id,
    joinedAt: z.iso.datetime(),
    source: z.enum(['checkout', 'gift', 'imported']),
    campaign: z.string().nullable().meta({ description: "The drive's slug they joined through" }),
    paid: z.boolean().meta({ description: 'Money arrived as they joined (false: a trial or a 100 % code)' }),
  }),
  'member.canceled': z.object({ memberId: id, endedAt: z.iso.datetime() }),
  'member.payment_failed': z.object({
    memberId: id.nullable(),
    invoiceId: z.string().meta({ description: "Stripe's invoice id" }),
    ...money,
  }),
  'gift.purchased': z.object({
    giftId: id,
    durationMonths: z.number().int(),
    ...money,
    campaign: z.string().nullable(),
  }),
  'gift.redeemed': z.object({ giftId: id, memberId: id, redeemedAt: z.iso.datetime() }),
  'member.renewed': z.object({
    memberId: id,
    invoiceId: z.string().meta({ description: "Stripe's invoice id" }),
    subscriptionId: z.string().meta({ description: "Stripe's subscription id" }),
    ...money,
    renewedAt: z.iso.datetime(),
    periodEnd: z.iso.datetime().nullable().meta({ description: 'The end of the period paid for' }),
  }),
  'newsletter.confirmed': z.object({
    consentId: id.meta({ description: 'The consent record (the address stays in our records)' }),
    list: z.string().meta({ description: "The list's slug" }),
    confirmedAt: z.iso.datetime(),
  }),
  'newsletter.unsubscribed': z.object({
    consentId: id.meta({ description: 'The consent record of the opt-out' }),
    list: z.string().meta({ description: "The list's slug" }),
    unsubscribedAt: z.iso.datetime(),
  }),
  'campaign.milestone': z.object({
    campaignId: id,
    campaign: z.string().meta({ description: "The drive's slug" }),
    title: z.string().meta({ description: "The drive's title" }),
    percent: z.number().int().meta({ description: 'The milestone reached, in percent of the goal' }),
    count: z.number().int().meta({ description: 'The count when it was reached' }),
    goal: z.number().int(),
    reachedAt: z.iso.datetime(),
  }),
  'sponsorship.granted': z.object({
    requestId: id,
    campaign: z.string().nullable(),
    durationMonths: z.number().int(),
    ...money,
    grantedAt: z.iso.datetime(),
  }),
};

const SUMMARY: Record<WebhookEventType, string> = {
  'member.joined': 'A reader became a member (first membership, or a gift redeemed by a new member)',
  'member.canceled': "A member's last subscription ended",
  'member.payment_failed':
    'A renewal charge failed; Stripe retries it and the member was asked to update their card',
  'gift.purchased': 'A gift membership was paid for',
  'gift.redeemed': 'A gift membership was redeemed',
  'member.renewed': "A member's subscription renewed with money (a paid renewal invoice)",
  'newsletter.confirmed': 'A reader confirmed a newsletter list (double opt-in); one message per list',
  'newsletter.unsubscribed': 'A reader left a newsletter list; one message per list',
  'campaign.milestone': "A drive's count reached a milestone (the highest reached; each once)",
  'sponsorship.granted': "A sponsored membership was granted from a drive's pool",
};

/** The whole body of an event type: Standard Webhooks' `type`, `timestamp`, `data`, and our `version`. */
export const payloadSchema = (type: WebhookEventType) =>
  z
    .object({
      type: z.literal(type),
      version: z.literal(PAYLOAD_VERSION),
      timestamp: z.iso.datetime().meta({ description: 'When it happened (not when it was sent)' }),
      data: DATA[type],
    })
    .strict()
    .meta({ id: `Webhook_${type.replace('.', '_')}` });

const HEADERS = z.object({
  'webhook-id': z.string().meta({ description: 'The message id: the same on every retry and redelivery' }),
  'webhook-timestamp': z.string().meta({ description: 'Unix seconds when this attempt was signed' }),
  'webhook-signature': z.string().meta({
    description:
      'Space-separated `v1,<base64 HMAC-SHA256>` signatures of `id.timestamp.body`, one per secret that ' +
      'signs (two during a rotation overlap); verify with any Standard Webhooks library',
  }),
});

export function webhookEventDocs(docs: ApiDocs): void {
  for (const type of Object.keys(DATA) as WebhookEventType[]) {
    docs.registerWebhook({
      method: 'post',
      path: type,
      tags: ['Webhooks'],
      summary: SUMMARY[type],
      request: {
        headers: HEADERS,
        body: { content: { 'application/json': { schema: payloadSchema(type) } } },
      },
      responses: {
        200: {
          description: 'Any 2xx acknowledges it; anything else (a 3xx too) is retried for about three days',
        },
      },
    });
  }
}
