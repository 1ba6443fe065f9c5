import type { Connection } from 'mongoose';
import type { Config } from '../config/config.js';
import { loadGiftOptions } from '../gifts/gift-options.js';
import type { Clock } from '../infra/clock.js';
import type { Logger } from '../infra/logger.js';
import type { DomainEvents } from '../shared/domain-events.js';
import { SPONSORED_MONTHS, type SponsorshipDeps } from './sponsorship.service.js';

/** A sponsored membership costs what a year's gift costs, in each currency gifts are sold in. */
export function sponsorshipDepsFrom(
  config: Config,
  deps: { db: Connection; clock: Clock; logger: Logger; events: DomainEvents },
): SponsorshipDeps {
  const year = loadGiftOptions(config.gifts.optionsFile).durations.find((d) => d.months === SPONSORED_MONTHS);
  return {
    db: deps.db,
    clock: deps.clock,
    logger: deps.logger,
    events: deps.events,
    timeZone: config.timeZone,
    publicBaseUrl: config.http.publicBaseUrl,
    prices: Object.fromEntries(
      Object.entries(year?.prices ?? {}).filter(([, p]) => p !== undefined),
    ) as Record<string, number>,
    autoApproveDomains: config.sponsorship.autoApproveDomains,
    from: { name: config.email.from.name, email: config.email.from.email },
  };
}
