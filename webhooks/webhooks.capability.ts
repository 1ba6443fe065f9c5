import { Router } from 'express';
import type Stripe from 'stripe';
import { giftDepsFrom } from '../src/gifts/gift-deps.js';
import type { Capability, ProcessContext } from '../src/infra/capability.js';
import { membershipDepsFrom } from '../src/memberships/memberships.capability.js';
import { sendgridWebhookDocs, sendgridWebhookRoutes } from './sendgrid.routes.js';
import { stripeWebhookDocs, stripeWebhookRoutes } from './stripe.routes.js';
import { registerStripeEventModel } from './stripe-event.model.js';
import type { HandlerTable } from './stripe-events.service.js';
import type { WebhookDeps } from './stripe-handlers.js';

/** What applying Stripe events needs, in the web process and the worker alike. */
export function webhookDepsFrom(ctx: ProcessContext): WebhookDeps & { stripe: Stripe | null } {
  return {
    ...membershipDepsFrom(ctx),
    stripe: ctx.stripe,
    gifts: giftDepsFrom(ctx.config, ctx),
    charityStatement: ctx.config.stripe.checkout.charityStatement,
    earlyFraudWarningRefunds: ctx.config.stripe.earlyFraudWarningRefunds,
  };
}

/**
 * Stripe's and SendGrid's signed events. Their routes verify signatures over the exact bytes
 * received, so they are mounted before any body parser and read the raw body themselves.
 */
export const webhooksCapability: Capability<
  ProcessContext & { localCheckout?: unknown; stripeEventHandlers?: HandlerTable }
> = {
  name: 'webhooks',
  models: registerStripeEventModel,
  rawRoutes(ctx) {
    const { config } = ctx;
    const router = Router();
    router.use(
      sendgridWebhookRoutes({
        db: ctx.db,
        clock: ctx.clock,
        events: ctx.events,
        publicKey: config.email.sendgridWebhookPublicKey,
      }),
    );
    router.use(
      stripeWebhookRoutes({
        ...webhookDepsFrom(ctx),
        localCheckout: Boolean(ctx.localCheckout),
        webhookSecret: config.stripe.webhookSecret,
        toleranceSeconds: config.stripe.webhookToleranceSeconds,
        handlers: ctx.stripeEventHandlers,
      }),
    );
    return router;
  },
  docs(docs) {
    stripeWebhookDocs(docs);
    sendgridWebhookDocs(docs);
  },
};
