import { replayStripeEvents } from '../../webhooks/replay.js';
import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import { giftDepsFrom } from '../gifts/gift-deps.js';
import { systemClock } from '../infra/clock.js';
import { createLogger } from '../infra/logger.js';
import { registerModels } from '../models.js';
import { DomainEvents } from '../shared/domain-events.js';

// `npm run stripe:replay`: rebuild members, subscriptions and the ledger from the stored Stripe
// events in a scratch database and report any difference from the live state. Exit code 1 if any.

const config = readConfigOrExit();
const logger = createLogger({ level: 'warn' });
const database = await openDatabase(config, logger);
try {
  const report = await replayStripeEvents(
    database.db,
    {
      clock: systemClock,
      logger,
      timeZone: config.timeZone,
      publicBaseUrl: config.http.publicBaseUrl,
      adoptUntagged: config.stripe.adoptUntagged,
      linkSecret: config.session.secret,
      // Replay calls no Stripe API: every fact it needs is in the stored events.
      gifts: giftDepsFrom(config, {
        db: database.db,
        clock: systemClock,
        logger,
        events: new DomainEvents(),
        stripe: null,
      }),
    },
    registerModels,
  );
  console.log(
    `Replayed ${report.events} events; compared ${report.compared.members} members, ` +
      `${report.compared.subscriptions} subscriptions, ${report.compared.ledgerEntries} ledger entries.`,
  );
  if (report.queued > 0)
    console.log(
      `${report.queued} events are still queued (not applied yet): not replayed. One that failed and waits ` +
        'for its retry may show as a difference; run this again when the queue is empty.',
    );
  if (report.differences.length === 0)
    console.log('No differences: the stored events reproduce the current state.');
  for (const difference of report.differences) console.log(`DIFFERENCE ${difference}`);
  process.exitCode = report.differences.length === 0 ? 0 : 1;
} finally {
  await database.close();
}
