import { EventWebhook } from '@sendgrid/eventwebhook';
import express, { Router } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { applyEmailEvents, sendgridEventBatchSchema } from '../src/email/email-events.service.js';
import { AppError, errorBodySchema } from '../src/http/errors.js';
import type { ApiDocs } from '../src/http/openapi.js';
import { parseInput } from '../src/http/validate.js';
import type { Clock } from '../src/infra/clock.js';
import type { DomainEvents } from '../src/shared/domain-events.js';

const SIGNATURE_HEADER = 'X-Twilio-Email-Event-Webhook-Signature';
const TIMESTAMP_HEADER = 'X-Twilio-Email-Event-Webhook-Timestamp';
/**
 * A signed batch is accepted only this close to its signing time, like Stripe's tolerance: a
 * captured batch replayed later is refused (the signature covers the timestamp, so it cannot be
 * moved forward).
 */
export const SENDGRID_TOLERANCE_SECONDS = 300;

/**
 * SendGrid's signed Event Webhook. The signature is ECDSA over timestamp + the exact bytes sent,
 * so this route reads the raw body and verifies it before parsing anything.
 */
export function sendgridWebhookRoutes(deps: {
  db: Connection;
  clock: Clock;
  events?: DomainEvents;
  publicKey?: string;
}): Router {
  const router = Router();
  const verifier = new EventWebhook();
  const publicKey = deps.publicKey ? verifier.convertPublicKeyToECDSA(deps.publicKey) : undefined;

  router.post('/webhooks/sendgrid', express.raw({ type: () => true, limit: '5mb' }), async (req, res) => {
    if (!publicKey) throw new AppError('webhook_not_configured');
    const signature = req.get(SIGNATURE_HEADER);
    const timestamp = req.get(TIMESTAMP_HEADER);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (
      !signature ||
      !timestamp ||
      !isRecent(timestamp, deps.clock.now()) ||
      !verifies(verifier, publicKey, body, signature, timestamp)
    ) {
      throw new AppError('invalid_signature');
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new AppError('invalid_json');
    }
    const events = parseInput(sendgridEventBatchSchema, json);
    const result = await applyEmailEvents(deps.db, deps.clock, events, deps.events);
    res.json({ received: events.length, ...result });
  });

  return router;
}

function isRecent(timestamp: string, now: Date): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  return Math.abs(now.getTime() / 1000 - Number(timestamp)) <= SENDGRID_TOLERANCE_SECONDS;
}

function verifies(
  verifier: EventWebhook,
  publicKey: ReturnType<EventWebhook['convertPublicKeyToECDSA']>,
  body: Buffer,
  signature: string,
  timestamp: string,
): boolean {
  try {
    return verifier.verifySignature(publicKey, body.toString('utf8'), signature, timestamp);
  } catch {
    return false; // a signature that is not even well-formed base64 DER
  }
}

export function sendgridWebhookDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'post',
    path: '/webhooks/sendgrid',
    tags: ['Webhooks'],
    summary: "SendGrid's signed Event Webhook (bounces, spam reports, unsubscribes, deliveries, opens)",
    request: {
      headers: z.object({ [SIGNATURE_HEADER]: z.string(), [TIMESTAMP_HEADER]: z.string() }),
      body: { content: { 'application/json': { schema: sendgridEventBatchSchema } } },
    },
    responses: {
      200: {
        description: 'Events applied; duplicates (same sg_event_id) are counted and skipped',
        content: {
          'application/json': {
            schema: z.object({ received: z.number(), processed: z.number(), duplicates: z.number() }),
          },
        },
      },
      401: {
        description: 'Missing or invalid signature',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      503: {
        description: 'SENDGRID_WEBHOOK_PUBLIC_KEY is not configured',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
