import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import type { Config } from '../config/config.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import type { DomainEvents } from '../shared/domain-events.js';
import type { GiftDeps } from './gift.service.js';
import { loadGiftOptions } from './gift-options.js';

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
