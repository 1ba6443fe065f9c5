import { emailModels } from '../src/email/email.model.js';
import { ledgerModel } from '../src/ledger/ledger.model.js';
import { membershipModels } from '../src/memberships/membership.model.js';
import { startFakeStripe } from '../test/support/fake-stripe.js';
import { serialize, signedHeaders, type TestEvent } from '../test/support/stripe-events.js';
import { TEST_ENV } from '../test/support/test-app.js';
import { stripeEventModel } from '../webhooks/stripe-event.model.js';
import { stripeEventMix } from './stripe-mix.js';
import {
  benchDatabase,
  deliverFromOtherProcess,
  inParallel,
  saveResult,
  startBenchApp,
  timed,
} from './support.js';

// 2,000 signed Stripe deliveries (1,600 distinct events and 400 duplicates), shuffled and sent
// concurrently through the real HTTP stack, against plain driver inserts of the same 2,000
// documents in the same run; then the time the queue takes to apply the 1,600 events (those that
// came before their member are retried by the queue).

const MEMBERSHIPS = 400;
const CONTRIBUTIONS = 200;
const DUPLICATES = 400;
const CONCURRENCY = 16;

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

const mixedEvents = (): TestEvent[] => stripeEventMix(MEMBERSHIPS, CONTRIBUTIONS);

export async function stripeWebhookBenchmark() {
  const database = await benchDatabase('webhook');
  // Each recorded payment asks Stripe for its fees; a local scripted Stripe answers (it knows none
  // of these charges, so each lookup is one round trip ending in a 404) instead of api.stripe.com.
  const stripe = await startFakeStripe();
  const {
    url: base,
    server,
    applyStripeEvents,
  } = await startBenchApp(database.db, { ...TEST_ENV, TIME_ZONE: 'UTC' }, stripe.connection);
  const url = `${base}/webhooks/stripe`;

  const unique = mixedEvents();
  const deliveries = shuffled([...unique, ...shuffled(unique).slice(0, DUPLICATES)]);
  const bodies = deliveries.map(serialize);
  // Sent from another process, as Stripe sends from another machine.
  const webhook = await deliverFromOtherProcess(
    url,
    bodies.map((body) => ({ body, headers: signedHeaders(body) })),
    CONCURRENCY,
  );

  // Then what the job runner does: apply every stored event (waiting out retries of events that
  // came before their member).
  const applying = await applyStripeEvents();

  // Baseline: the same 2,000 documents, inserted with the driver, same concurrency.
  const plain = database.db.collection('plain_inserts');
  const inserts = await timed(() =>
    inParallel(deliveries.length, CONCURRENCY, (i) =>
      plain.insertOne({ ...JSON.parse(bodies[i]!), _id: `d${i}` } as never),
    ),
  );

  const stored = await stripeEventModel(database.db).aggregate<{ _id: string; n: number }>([
    { $group: { _id: '$status', n: { $sum: 1 } } },
  ]);
  const counts = {
    storedEvents: await stripeEventModel(database.db).countDocuments(),
    members: await membershipModels(database.db).Member.countDocuments(),
    ledgerEntries: await ledgerModel(database.db).countDocuments(),
    welcomeEmails: await emailModels(database.db).EmailJob.countDocuments({ template: 'member-welcome' }),
    receipts: await emailModels(database.db).EmailJob.countDocuments({ template: 'contribution-receipt' }),
  };
  server.close();
  await stripe.close();
  await database.close();

  const expected = {
    storedEvents: unique.length,
    members: MEMBERSHIPS,
    ledgerEntries: MEMBERSHIPS + CONTRIBUTIONS * 2,
    welcomeEmails: MEMBERSHIPS,
    receipts: CONTRIBUTIONS,
  };
  const lost = unique.length - (stored.find((s) => s._id === 'applied')?.n ?? 0);
  const appliedTwice = Object.entries(expected)
    .filter(([k, v]) => counts[k as keyof typeof counts] > v)
    .map(([k]) => k);
  const perSecond = (ms: number) => Math.round((deliveries.length / ms) * 1000);
  const result = {
    database: database.server,
    deliveries: deliveries.length,
    distinctEvents: unique.length,
    duplicates: DUPLICATES,
    concurrency: CONCURRENCY,
    refusedDeliveries: webhook.refused,
    webhookEventsPerSecond: perSecond(webhook.ms),
    plainInsertsPerSecond: perSecond(inserts.ms),
    ratioWebhookToInserts: Math.round((inserts.ms / webhook.ms) * 1000) / 1000,
    appliedEventsPerSecond: Math.round((unique.length / applying.ms) * 1000),
    lost,
    appliedTwice: appliedTwice.length,
    ...counts,
  };
  if (lost !== 0 || appliedTwice.length > 0 || JSON.stringify(counts) !== JSON.stringify(expected)) {
    throw new Error(`webhook benchmark lost or duplicated work: ${JSON.stringify({ result, expected })}`);
  }
  saveResult('stripe-webhook', result);
  return result;
}
