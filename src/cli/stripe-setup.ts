import { STRIPE_EVENT_HANDLERS } from '../../webhooks/stripe-handlers.js';
import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import { createLogger } from '../infra/logger.js';
import { stripeFromConfig } from '../infra/stripe.js';
import { loadPlans } from '../memberships/plans.js';
import { setupStripe } from '../memberships/stripe-setup.js';
import { runCli } from './cli-support.js';

// `npm run stripe:setup`: Products and Prices per tier, the Customer Portal configuration and the
// webhook endpoint, created or brought up to date (src/memberships/stripe-setup.ts). Safe to rerun.
// The endpoint's signing secret is printed here, once, for STRIPE_WEBHOOK_SECRET: it is shown by
// Stripe only when the endpoint is created, and never logged.

runCli(async () => {
  const config = readConfigOrExit();
  const stripe = stripeFromConfig(config.stripe);
  if (!stripe) {
    console.error('STRIPE_SECRET_KEY is not set: there is no Stripe account to set up.');
    return 78;
  }
  const logger = createLogger({ level: 'warn' });
  const database = await openDatabase(config, logger);
  try {
    const report = await setupStripe({
      db: database.db,
      stripe,
      plans: loadPlans(config.membershipPlansFile),
      publicBaseUrl: config.http.publicBaseUrl,
      brandName: config.brand.name,
      events: Object.keys(STRIPE_EVENT_HANDLERS),
    });
    for (const product of report.products) console.log(`product ${product.id}: ${product.action}`);
    for (const price of report.prices)
      console.log(`price ${price.lookupKey} → ${price.priceId}: ${price.action}`);
    console.log(
      `customer portal configuration ${report.portalConfiguration.id}: ${report.portalConfiguration.action}`,
    );
    const endpoint = report.webhookEndpoint;
    console.log(
      `webhook endpoint ${endpoint.id} (${endpoint.url}, API ${endpoint.apiVersion}): ${endpoint.action}`,
    );
    if (endpoint.secret)
      console.log(`\nSTRIPE_WEBHOOK_SECRET=${endpoint.secret}\n(shown once: put it in the environment now)`);
    else console.log('signing secret unchanged (Stripe shows it only when an endpoint is created)');
    if (endpoint.replaces)
      console.log(
        `the old endpoint ${endpoint.replaces.id} (API ${endpoint.replaces.apiVersion ?? 'account default'}) still runs: ` +
          'deploy the new secret, then delete it in the Stripe dashboard',
      );
    console.log(
      'Stripe dashboard, once: Billing → Subscriptions → "Upcoming renewal events": the days before a yearly ' +
        'renewal the reminder email goes out (invoice.upcoming).',
    );
    return 0;
  } finally {
    await database.close();
  }
});
