import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import type { Config } from '../config/config.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import type { CheckoutSessions } from '../memberships/checkout.service.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { type GiftOptions, loadGiftOptions } from './gift-options.js';

// What every stage of a gift's life needs (purchase, delivery, redemption and refund, the sweep).

export interface GiftDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  events: DomainEvents;
  stripe: Stripe | null;
  /** Development without Stripe: gift checkout goes to the local payment page instead. */
  localCheckout?: CheckoutSessions;
  options: GiftOptions;
  publicBaseUrl: string;
  linkSecret: string;
  timeZone: string;
  /** Local hour (in timeZone) at which gifts are delivered on their day. */
  deliveryHour: number;
  /** Unredeemed gifts expire this many months after delivery. */
  expiryMonths: number;
}

export function giftDepsFrom(
  config: Config,
  deps: { db: Connection; clock: Clock; logger: Logger; events: DomainEvents; stripe: Stripe | null },
): GiftDeps {
  return {
    db: deps.db,
    clock: deps.clock,
    logger: deps.logger,
    events: deps.events,
    stripe: deps.stripe,
    options: loadGiftOptions(config.gifts.optionsFile),
    publicBaseUrl: config.http.publicBaseUrl,
    linkSecret: config.session.secret,
    timeZone: config.timeZone,
    deliveryHour: config.gifts.deliveryHour,
    expiryMonths: config.gifts.expiryMonths,
  };
}
