import type { HandlerTable } from '../webhooks/stripe-events.service.js';
import { webhooksCapability } from '../webhooks/webhooks.capability.js';
import { accountsCapability } from './accounts/accounts.capability.js';
import { attributionCapability } from './attribution/attribution.capability.js';
import { campaignsCapability } from './campaigns/campaigns.capability.js';
import type { ProgressCache } from './campaigns/progress.service.js';
import { consoleCapability } from './console/console.capability.js';
import { emailCapability } from './email/email.capability.js';
import { giftsCapability } from './gifts/gifts.capability.js';
import type { Capability, ProcessContext } from './infra/capability.js';
import type { PeriodicTask } from './infra/jobs/runner.js';
import { storeCapability } from './infra/store.capability.js';
import { integrationsCapability } from './integrations/integrations.capability.js';
import { ledgerCapability } from './ledger/ledger.capability.js';
import type { CheckoutSessions } from './memberships/checkout.service.js';
import { membershipsCapability } from './memberships/memberships.capability.js';
import { newslettersCapability } from './newsletters/newsletters.capability.js';
import { reportsCapability } from './reports/reports.capability.js';
import { retentionCapability } from './retention/retention.capability.js';
import type { DomainEvents } from './shared/domain-events.js';
import { sponsorshipCapability } from './sponsorship/sponsorship.capability.js';
import { staffCapability } from './staff/staff.capability.js';

/** What routes are given besides the process context: things the web process builds once. */
export interface AppContext extends ProcessContext {
  /** Shared with the progress fast path in front of Express. */
  progressCache: ProgressCache;
  /** The development checkout page, when there is no Stripe key (src/dev/). */
  localCheckout?: CheckoutSessions;
  /** Replaces the Stripe event handler table (tests use it to make a handler fail). */
  stripeEventHandlers?: HandlerTable;
}

/**
 * Every capability, each declared once in its own folder. The order is the order routes are
 * mounted and listeners subscribed: campaigns hear a ledger entry before settlement and
 * sponsorship do, as they always have.
 */
export const CAPABILITIES: Capability<AppContext>[] = [
  storeCapability,
  emailCapability,
  staffCapability,
  membershipsCapability,
  accountsCapability,
  newslettersCapability,
  giftsCapability,
  reportsCapability,
  campaignsCapability,
  ledgerCapability,
  sponsorshipCapability,
  attributionCapability,
  retentionCapability,
  integrationsCapability,
  consoleCapability,
  webhooksCapability,
];

const wired = new WeakSet<DomainEvents>();

/**
 * Subscribes the capabilities to each other's events, once per DomainEvents. Whoever applies a
 * Stripe event (the web process right after answering, the worker on retry) must have the same
 * listeners, or a member would join without the campaign counting them.
 */
export function wireCapabilities(ctx: ProcessContext): void {
  if (wired.has(ctx.events)) return;
  wired.add(ctx.events);
  for (const capability of CAPABILITIES) capability.listen?.(ctx);
}

/** Every capability's periodic tasks, run by the one job runner. */
export const periodicTasks = (ctx: ProcessContext): PeriodicTask[] =>
  CAPABILITIES.flatMap((capability) => capability.tasks?.(ctx) ?? []);
