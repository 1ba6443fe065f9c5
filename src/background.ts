import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import type Stripe from 'stripe';
import type { Config } from './config/config.js';
import { createWorkerFromConfig } from './email/email.setup.js';
import { deliverDueGifts, sweepGifts } from './gifts/gift.service.js';
import { giftDepsFrom } from './gifts/gift-deps.js';
import type { Clock } from './infra/clock.js';
import type { Logger } from './infra/logger.js';
import { settleUnsettledEntries } from './ledger/settlement.service.js';
import { createMarketingSyncWorker } from './newsletters/marketing-sync.js';
import type { DomainEvents } from './shared/domain-events.js';

const MINUTE = 60_000;

/**
 * The background work a process runs: sending queued email, syncing SendGrid Marketing lists,
 * delivering gifts on their day, the hourly gift sweep, and settling ledger entries whose Stripe
 * fees were not known when they were recorded. Every step is claimed in MongoDB or idempotent,
 * so any number of processes may run it.
 */
export function startBackgroundWork(
  config: Config,
  deps: {
    db: Connection;
    clock: Clock;
    logger: Logger;
    metrics: Registry;
    stripe: Stripe | null;
    events: DomainEvents;
  },
) {
  const email = createWorkerFromConfig(config, deps);
  email.start();
  const sync = config.email.sendgridApiKey
    ? createMarketingSyncWorker({ ...deps, apiKey: config.email.sendgridApiKey })
    : undefined;
  sync?.start();
  const gifts = giftDepsFrom(config, deps);
  let lastSweep = 0;
  const giftRound = async () => {
    try {
      await deliverDueGifts(gifts);
      if (Date.now() - lastSweep >= 60 * MINUTE) {
        lastSweep = Date.now();
        await sweepGifts(gifts);
      }
    } catch (error) {
      deps.logger.error({ err: error }, 'gift scheduler round failed');
    }
  };
  const giftTimer = setInterval(giftRound, MINUTE);
  giftTimer.unref();
  void giftRound();
  const { stripe } = deps;
  const settleTimer = stripe
    ? setInterval(async () => {
        try {
          await settleUnsettledEntries({ ...deps, stripe });
        } catch (error) {
          deps.logger.error({ err: error }, 'settlement sweep failed');
        }
      }, 10 * MINUTE)
    : undefined;
  settleTimer?.unref();
  return {
    async stop() {
      clearInterval(giftTimer);
      clearInterval(settleTimer);
      sync?.stop();
      await email.stop();
    },
  };
}
