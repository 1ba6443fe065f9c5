import express, { Router } from 'express';
import Stripe from 'stripe';
import { z } from 'zod';
import { AppError, errorBodySchema } from '../src/http/errors.js';
import type { ApiDocs } from '../src/http/openapi.js';
import { warnOnApiVersion } from '../src/infra/stripe.js';
import { type HandlerTable, type Receipt, storeStripeEvent } from './stripe-events.service.js';
import type { WebhookDeps } from './stripe-handlers.js';

export interface StripeWebhookDeps extends WebhookDeps {
  stripe: Stripe | null;
  /** The local checkout (development, no Stripe key) posts signed events here too. */
  localCheckout?: boolean;
  webhookSecret?: string;
  toleranceSeconds: number;
  handlers?: HandlerTable;
}

/**
 * What storing and applying an event rely on. Stripe's own events always have it; a body that is
 * signed with our secret but lacks it (a hand-made test, a bug in a tool) is refused with 400 rather
 * than stored under an id like `undefined` or failing with 500 on every retry.
 */
const readableEvent = z.object({
  id: z.string().regex(/^evt_[\w-]{1,250}$/),
  type: z.string().min(1).max(200),
  created: z.number().int().nonnegative(),
  livemode: z.boolean(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

/**
 * Stripe's webhook. The signature covers the exact bytes Stripe sent, so this route takes the raw
 * body (no JSON parser runs before it) and verifies it before anything is stored. A bad signature,
 * an old timestamp or a re-serialised body is refused with 400 and leaves no trace. A verified
 * event is queued, answered 200, and applied by the `stripe-events` queue right after
 * (stripe-events.service.ts); only a failure to queue it answers 500, and Stripe sends it again.
 */
export function stripeWebhookRoutes(deps: StripeWebhookDeps): Router {
  const router = Router();
  router.post('/webhooks/stripe', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    // Verifying needs no API key: Stripe's own verifier, also when only the local checkout signs.
    const webhooks = deps.stripe?.webhooks ?? (deps.localCheckout ? Stripe.webhooks : undefined);
    if (!webhooks || !deps.webhookSecret) throw new AppError('payments_not_configured');
    const signature = req.get('stripe-signature');
    if (!signature)
      throw new AppError('webhook_signature_invalid', 'The Stripe-Signature header is missing.');
    let event: Stripe.Event;
    try {
      event = webhooks.constructEvent(
        Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        signature,
        deps.webhookSecret,
        deps.toleranceSeconds,
      );
    } catch {
      throw new AppError('webhook_signature_invalid');
    }
    if (!readableEvent.safeParse(event).success) throw new AppError('webhook_event_invalid');
    warnOnApiVersion(deps.logger, event);
    let receipt: Receipt;
    try {
      receipt = await storeStripeEvent(deps, event, deps.handlers);
    } catch (error) {
      req.log.warn({ eventId: event.id, type: event.type, err: error }, 'storing a stripe event failed');
      throw error;
    }
    // Queued: this process's job runner, if it runs one, was woken by the marker (src/infra/due.ts).
    res.json({ received: true, ...receipt });
  });
  return router;
}

export function stripeWebhookDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'post',
    path: '/webhooks/stripe',
    tags: ['Webhooks'],
    summary: 'Stripe events (signed); each is queued, answered, then applied idempotently',
    request: { headers: z.object({ 'Stripe-Signature': z.string() }) },
    responses: {
      200: {
        description:
          'Queued for applying (`queued`; an event already applied is left as it is), or a type this service does not handle (`ignored`). `duplicate`: this delivery found the event already queued here (or, for `ignored`, stored); a delivery of an event applied earlier is not looked up and answers `false`.',
        content: {
          'application/json': {
            schema: z.object({
              received: z.literal(true),
              duplicate: z.boolean(),
              outcome: z.enum(['queued', 'ignored']),
            }),
          },
        },
      },
      400: {
        description:
          'Missing or invalid signature, too old (`webhook_signature_invalid`), or signed but not a readable event (`webhook_event_invalid`)',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      500: {
        description: 'Storing failed (the database is away); Stripe sends it again',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
