import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { isAdoptedStripeObject } from './adopted.js';
import { METADATA_APP } from './checkout.service.js';

// What every Stripe event of memberships shares. The events themselves are applied by Stripe
// object, one file each: checkout-session.events.ts, subscription.events.ts, invoice.events.ts and
// charge.events.ts (refunds and disputes); webhooks/stripe-handlers.ts maps event types to them.

export interface MembershipDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  events: DomainEvents;
  timeZone: string;
  publicBaseUrl: string;
  /** STRIPE_ADOPT_UNTAGGED (adopted.ts). */
  adoptUntagged?: boolean;
  /** Signs links that act for a reader without a login (the dunning email's card update). */
  linkSecret: string;
}

/** What applying a Stripe object did: changed state, was not ours, or waits for payment. */
export type Outcome = 'applied' | 'ignored' | 'pending';

/** The event refers to something we do not know yet; answering 5xx makes Stripe send it again later. */
export class NotReadyYet extends Error {}

export const isOurs = (metadata: Stripe.Metadata | null | undefined) => metadata?.app === METADATA_APP;

/** Ours by our metadata, or an untagged object of the newsroom's adopted account (adopted.ts). */
export const isOursOrAdopted = async (
  deps: MembershipDeps,
  metadata: Stripe.Metadata | null | undefined,
  ids: { subscriptionId?: string; customerId?: string },
) => isOurs(metadata) || isAdoptedStripeObject(deps, ids);
