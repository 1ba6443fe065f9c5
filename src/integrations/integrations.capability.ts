import type { Capability, ProcessContext } from '../infra/capability.js';
import { staffAuthFrom } from '../staff/staff.capability.js';
import { enqueueDailyTotals } from './daily-totals.js';
import { subscribeWebhooks } from './deliveries.service.js';
import { createWebhookQueue, type WebhookQueue } from './delivery.worker.js';
import { registerWebhookModels } from './webhook.model.js';
import { webhookEventDocs } from './webhooks.docs.js';
import { webhookRouteDocs, webhookRoutes } from './webhooks.routes.js';

/** Outgoing webhooks (Standard Webhooks): endpoints admins manage, and deliveries of domain events. */
export const integrationsCapability: Capability = {
  name: 'integrations',
  models: registerWebhookModels,
  listen: (ctx) => subscribeWebhooks(ctx.events, { db: ctx.db, clock: ctx.clock }),
  // The Slack preset's daily totals: hourly, so each campaign's day is posted within an hour of
  // its end in the campaign's time zone; the message key makes it once a day (daily-totals.ts).
  tasks: (ctx) => [
    { name: 'webhook-daily-totals', everyMs: 60 * 60_000, run: () => enqueueDailyTotals(ctx) },
  ],
  routes: (ctx) =>
    webhookRoutes({
      db: ctx.db,
      clock: ctx.clock,
      allowPrivateTargets: ctx.config.webhooks.allowPrivateTargets,
      staffAuth: staffAuthFrom(ctx.config),
    }),
  docs(docs) {
    webhookRouteDocs(docs);
    webhookEventDocs(docs);
  },
};

/** The delivery queue, run by the one job runner (src/background.ts). */
export const webhookQueueFrom = (ctx: ProcessContext): WebhookQueue =>
  createWebhookQueue({
    db: ctx.db,
    clock: ctx.clock,
    logger: ctx.logger,
    allowPrivateTargets: ctx.config.webhooks.allowPrivateTargets,
    leaseMs: ctx.config.jobs.leaseMs,
  });
