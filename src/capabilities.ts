import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import type { WebhookDeps } from '../webhooks/stripe-handlers.js';
import { subscribeCampaigns } from './campaigns/campaign.listeners.js';
import type { Config } from './config/config.js';
import { giftDepsFrom } from './gifts/gift-deps.js';
import type { Clock } from './infra/clock.js';
import type { Logger } from './infra/logger.js';
import { subscribeSettlement } from './ledger/settlement.service.js';
import { loadLists } from './newsletters/lists.js';
import { removeSuppressedFromLists } from './newsletters/newsletter.service.js';
import type { DomainEvents } from './shared/domain-events.js';
import { applySponsorshipRefund } from './sponsorship/sponsorship.service.js';

// What both kinds of process need to apply Stripe events: the web process (its own events, right
// after answering) and the worker (retries, and events a web process left when it stopped). The
// capabilities hear about each other through DomainEvents; whoever applies an event must have
// the same listeners, or a member would join without the campaign counting them.

export interface ProcessDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  stripe: Stripe | null;
  events: DomainEvents;
}

function membershipDepsFrom(config: Config, deps: ProcessDeps) {
  return {
    db: deps.db,
    clock: deps.clock,
    logger: deps.logger,
    events: deps.events,
    timeZone: config.timeZone,
    publicBaseUrl: config.http.publicBaseUrl,
    adoptUntagged: config.stripe.adoptUntagged,
    linkSecret: config.session.secret,
  };
}

export function newsletterDepsFrom(config: Config, deps: ProcessDeps) {
  return {
    db: deps.db,
    clock: deps.clock,
    lists: loadLists(config.newsletters.listsFile),
    publicBaseUrl: config.http.publicBaseUrl,
    linkSecret: config.session.secret,
    confirmationHours: config.newsletters.confirmationHours,
  };
}

export function webhookDepsFrom(config: Config, deps: ProcessDeps): WebhookDeps & { stripe: Stripe | null } {
  return {
    ...membershipDepsFrom(config, deps),
    stripe: deps.stripe,
    gifts: giftDepsFrom(config, deps),
    charityStatement: config.stripe.checkout.charityStatement,
  };
}

const wired = new WeakSet<DomainEvents>();

/** Subscribes the capabilities to each other's events, once per DomainEvents. */
export function wireCapabilities(config: Config, deps: ProcessDeps): void {
  if (wired.has(deps.events)) return;
  wired.add(deps.events);
  subscribeCampaigns(deps.events, { db: deps.db, clock: deps.clock, logger: deps.logger });
  if (deps.stripe) subscribeSettlement(deps.events, { ...deps, stripe: deps.stripe });
  deps.events.on('ledger.recorded', (entry) => applySponsorshipRefund(deps, entry));
  const newsletterDeps = newsletterDepsFrom(config, deps);
  deps.events.on('address.suppressed', ({ email }) => removeSuppressedFromLists(newsletterDeps, email));
}
