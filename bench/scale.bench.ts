import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import { backfillCampaignTallies } from '../src/campaigns/campaign.service.js';
import { computeProgress } from '../src/campaigns/progress.service.js';
import { enqueueEmail } from '../src/email/outbox.service.js';
import { systemClock } from '../src/infra/clock.js';
import { backfillMemberKeys } from '../src/memberships/member-keys.js';
import { backfillReaderRecords } from '../src/retention/reader-data.service.js';
import { workerAgainstCapture } from '../test/support/email.js';
import { startFakeStripe } from '../test/support/fake-stripe.js';
import { startSendgridCapture } from '../test/support/sendgrid-capture.js';
import {
  charge,
  checkoutSession,
  invoice,
  purchase,
  serialize,
  signedHeaders,
  stripeEvent,
  subscription,
  T0,
  type TestEvent,
} from '../test/support/stripe-events.js';
import { TEST_ENV } from '../test/support/test-app.js';
import {
  benchDatabase,
  deliverFromOtherProcess,
  inParallel,
  saveResult,
  startBenchApp,
  timed,
} from './support.js';

// The newsroom's real size on the embedded database: the same measurements on an empty database,
// at the seed's size (12,000 supporters) and at four times it, in one run. Every hot path must stay
// flat as the collections grow: a path that filters on anything but `_id` decodes the whole
// collection on FerretDB, and shows here as a ratio far below 1.
//   npm run bench -- scale            (BENCH_SCALE_STEPS=0,1 to stop at the seed's size)

const SEED = {
  members: 12_000, // each with a subscription
  stripeEvents: 60_000,
  ledger: 60_000,
  newsletterSubscriptions: 30_000,
  sentEmails: 100_000,
  contributions: 1_000,
};
const CONCURRENCY = 4;
const WARM_UP = 8;
const WEBHOOK_WARM_UP = 60;
const TIME_BOX_MS = 60_000; // no measurement runs longer, however slow the path is

const STEPS = (process.env.BENCH_SCALE_STEPS ?? '0,1,4').split(',').map(Number);

export async function scaleBenchmark() {
  const database = await benchDatabase('scale');
  const stripe = await startFakeStripe();
  const capture = await startSendgridCapture();
  const { url, server, applyStripeEvents } = await startBenchApp(
    database.db,
    {
      ...TEST_ENV,
      TIME_ZONE: 'UTC',
      NEWSLETTER_SIGNUPS_PER_IP: '1000000',
      EMAIL_WORKER: 'off',
    },
    stripe.connection,
  );
  const campaignId = await createRunningCampaign(database.db);
  const rows: Record<string, number | string>[] = [];
  let seeded = 0;
  try {
    for (const step of STEPS) {
      const seedMs = (await timed(() => seedTo(database.db, campaignId, step, seeded))).ms;
      seeded = step;
      const run = `x${step}`;
      const webhook = await webhookIngest(url, run);
      const apply = await applyStripeEvents();
      if (apply.left > 0) throw new Error(`${apply.left} stripe events were still not applied`);
      const plain = await plainInserts(database.db, run);
      const progress = await progressRefresh(database.db);
      const signup = await latencies(100, (i) =>
        fetch(`${url}/newsletters/subscriptions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: `new-${run}-${i}@example.com`, lists: ['editors-picks'] }),
        }),
      );
      const signIn = await latencies(50, (i) =>
        fetch(`${url}/account/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.${step}.${i}` },
          body: JSON.stringify({ email: `member${i * 7}@example.com` }),
        }),
      );
      const outbox = await outboxSend(database.db, capture, run);
      rows.push({
        size: step === 0 ? 'empty' : `${step}× seed`,
        members: SEED.members * step,
        seedSeconds: Math.round(seedMs / 100) / 10,
        webhookEventsPerSecond: webhook.perSecond,
        webhookAppliedPerSecond: round((webhook.stored / apply.ms) * 1000),
        plainInsertsPerSecond: plain.perSecond,
        ratioWebhookToInserts: round(webhook.perSecond / plain.perSecond),
        progressRefreshMs: progress.medianMs,
        signupP50Ms: signup.p50,
        signupP99Ms: signup.p99,
        signInP50Ms: signIn.p50,
        signInP99Ms: signIn.p99,
        outboxEmailsPerSecond: outbox.perSecond,
      });
      console.log(rows.at(-1));
    }
  } finally {
    server.close();
    await stripe.close();
    await capture.close();
    await database.close();
  }
  const empty = rows[0]!;
  const growth = rows.map((row) => ({
    ...row,
    webhookVsEmpty: round(Number(row.webhookEventsPerSecond) / Number(empty.webhookEventsPerSecond)),
    appliedVsEmpty: round(Number(row.webhookAppliedPerSecond) / Number(empty.webhookAppliedPerSecond)),
    outboxVsEmpty: round(Number(row.outboxEmailsPerSecond) / Number(empty.outboxEmailsPerSecond)),
  }));
  const result = { database: database.server, seed: SEED, concurrency: CONCURRENCY, growth };
  saveResult('scale', result);
  return growth;
}

export const round = (n: number) => Math.round(n * 1000) / 1000;

async function createRunningCampaign(db: Connection): Promise<Types.ObjectId> {
  const _id = new Types.ObjectId();
  const now = Date.now();
  await db.collection('campaigns').insertOne({
    _id,
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    description: '',
    goal: 5_000,
    startsAt: new Date(now - 30 * 86_400_000),
    endsAt: new Date(now + 30 * 86_400_000),
    timeZone: 'UTC',
    startingOffset: 0,
    counts: { gifts: true, oneTime: false },
    milestones: [25, 50, 75, 100],
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  return _id;
}

/** Bulk-inserts documents shaped like the app's own, checked against its models once per batch. */
async function bulk(
  db: Connection,
  modelName: string,
  count: number,
  make: (i: number) => object,
): Promise<void> {
  const model = db.model(modelName);
  const BATCH = 500; // FerretDB writes a batch in one transaction: keep each well inside the socket timeout
  for (let start = 0; start < count; start += BATCH) {
    const docs = Array.from({ length: Math.min(BATCH, count - start) }, (_, k) => make(start + k));
    if (start === 0)
      await new model(docs[0]).validate().catch((invalid: Error) => {
        throw new Error(`seed document does not fit ${model.modelName}: ${invalid.message}`);
      });
    await model.collection.insertMany(docs, { ordered: false });
  }
}

/** Grows every collection from `from`× to `to`× the seed's size. */
async function seedTo(db: Connection, campaignId: Types.ObjectId, to: number, from: number) {
  const range = (n: number) => ({ first: n * from, count: n * (to - from) });
  const at = new Date(Date.now() - 40 * 86_400_000);
  const day = at.toISOString().slice(0, 10);
  const memberId = (i: number) => new Types.ObjectId(i.toString(16).padStart(24, '0'));

  const m = range(SEED.members);
  await bulk(db, 'Member', m.count, (k) => {
    const i = m.first + k;
    return {
      _id: memberId(i + 1),
      email: `member${i}@example.com`,
      name: `Member ${i}`,
      locale: 'en',
      stripeCustomerId: `cus_seed${i}`,
      status: i % 10 === 0 ? 'canceled' : 'active',
      source: 'checkout',
      joinedAt: at,
      joinedVia: `cs_seed${i}`,
      currentPeriodEnd: new Date(Date.now() + 86_400_000),
      createdAt: at,
      updatedAt: at,
    };
  });
  await bulk(db, 'Subscription', m.count, (k) => {
    const i = m.first + k;
    return {
      _id: `sub_seed${i}`,
      memberId: memberId(i + 1),
      customerId: `cus_seed${i}`,
      status: 'active',
      plan: 'supporter',
      interval: 'month',
      amount: 500,
      currency: 'eur',
      cancelAtPeriodEnd: false,
      lastEventCreated: T0,
      lastEventId: `evt_seedsub${i}`,
    };
  });
  const e = range(SEED.stripeEvents);
  await bulk(db, 'StripeEvent', e.count, (k) => ({
    _id: `evt_seed${e.first + k}`,
    object: { id: `in_seed${e.first + k}`, object: 'invoice', amount_paid: 500, padding: 'x'.repeat(600) },
    type: 'invoice.paid',
    created: T0,
    livemode: false,
    status: 'applied',
    attempts: 1,
    receivedAt: at,
    appliedAt: at,
  }));
  const l = range(SEED.ledger);
  await bulk(db, 'LedgerEntry', l.count, (k) => {
    const i = l.first + k;
    return {
      _id: `in_seed${i}`,
      kind: 'subscription_payment',
      amount: 500,
      currency: 'eur',
      occurredAt: at,
      day,
      month: day.slice(0, 7),
      email: `member${i % (SEED.members * to)}@example.com`,
      memberId: memberId((i % (SEED.members * to)) + 1),
      stripeCustomerId: `cus_seed${i % (SEED.members * to)}`,
      chargeId: `ch_seed${i}`,
      paymentIntentId: `pi_seed${i}`,
      invoiceId: `in_seed${i}`,
      recordedAt: at,
    };
  });
  const n = range(SEED.newsletterSubscriptions);
  await bulk(db, 'NewsletterSubscription', n.count, (k) => {
    const i = n.first + k;
    return {
      _id: `editors-picks:reader${i}@example.com`,
      list: 'editors-picks',
      email: `reader${i}@example.com`,
      locale: 'en',
      status: 'confirmed',
      requestedAt: at,
      confirmedAt: at,
    };
  });
  const s = range(SEED.sentEmails);
  await bulk(db, 'EmailJob', s.count, (k) => {
    const i = s.first + k;
    return {
      idempotencyKey: `seed:${i}`,
      template: 'member-welcome',
      kind: 'transactional',
      locale: 'en',
      to: { email: `member${i}@example.com` },
      data: { name: `Member ${i}`, planName: 'Monthly', accountUrl: 'https://members.test/a' },
      status: 'sent',
      attempts: 1,
      claimSeq: 1,
      nextAttemptAt: at,
      sentAt: at,
      createdAt: at,
      updatedAt: at,
    };
  });
  const c = range(SEED.contributions);
  await bulk(db, 'Contribution', c.count, (k) => ({
    _id: `${campaignId}:member:${memberId(c.first + k + 1)}`,
    campaignId,
    kind: 'member',
    memberId: memberId(c.first + k + 1),
    source: 'direct',
    countedAt: new Date(),
    day: new Date().toISOString().slice(0, 10),
  }));
  // What the app keeps beside its records when it writes them itself: lookup keys, count tallies.
  await backfillMemberKeys(db);
  await backfillCampaignTallies(db);
  await backfillReaderRecords(db);
}

/** A realistic mix: new memberships (checkout, subscription, invoice), renewals, one-time gifts and refunds. */
function eventMix(run: string): TestEvent[] {
  const events: TestEvent[] = [];
  for (let i = 0; i < 40; i++) {
    const p = purchase({ email: `joiner-${run}-${i}@example.com` });
    events.push(
      stripeEvent('checkout.session.completed', checkoutSession(p), T0 + i),
      stripeEvent('customer.subscription.created', subscription(p, 'active'), T0 + i + 1),
      stripeEvent('invoice.paid', invoice(p), T0 + i + 2),
    );
    // Half of them renew (the same path a seeded member's renewal takes: keys by primary key).
    if (i % 2 === 0) events.push(stripeEvent('invoice.paid', invoice(p), T0 + i + 30 * 86_400));
  }
  for (let i = 0; i < 20; i++) {
    const p = purchase({ amount: 3000, email: `giver-${run}-${i}@example.com` });
    events.push(
      stripeEvent('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), T0 + i),
      stripeEvent('charge.refunded', charge(p, { amountRefunded: 1000, kind: 'one_time' }), T0 + i + 100),
    );
  }
  return events;
}

/**
 * Stripe's side: events delivered 4 at a time, from another process (Stripe is another machine),
 * until each is answered 200 (stored and queued). Applying them is measured after, by draining the
 * queue (applyStripeEvents).
 */
export async function webhookIngest(base: string, run: string) {
  const signed = (events: TestEvent[]) =>
    events.map(serialize).map((body) => ({ body, headers: signedHeaders(body) }));
  // Warm-up, not counted, in the same sending process: compiles its HTTP client and the server's path.
  const warmUp = signed(eventMix(`${run}w`).slice(0, WEBHOOK_WARM_UP));
  const { accepted, ms } = await deliverFromOtherProcess(
    `${base}/webhooks/stripe`,
    signed(eventMix(run)),
    CONCURRENCY,
    warmUp,
  );
  return { perSecond: round((accepted / ms) * 1000), accepted, stored: accepted + warmUp.length };
}

async function plainInserts(db: Connection, run: string) {
  const bodies = eventMix(run).map(serialize);
  const plain = db.collection(`plain_inserts_${run}`);
  await plain.insertOne({ _id: 'warm-up' } as never); // creating the collection is not an insert's cost
  const { ms } = await timed(() =>
    inParallel(bodies.length, CONCURRENCY, (i) =>
      plain.insertOne({ ...JSON.parse(bodies[i]!), _id: randomBytes(8).toString('hex') } as never),
    ),
  );
  return { perSecond: round((bodies.length / ms) * 1000) };
}

export async function progressRefresh(db: Connection) {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) times.push((await timed(() => computeProgress(db, 'birthday', new Date()))).ms);
  times.sort((a, b) => a - b);
  return { medianMs: Math.round(times[3]!) };
}

export async function latencies(count: number, request: (i: number) => Promise<Response>) {
  const times: number[] = [];
  // Warm-up, not counted: the path's first requests compile its code and open pool connections.
  await inParallel(WARM_UP, CONCURRENCY, async (i) => (await request(count + i)).arrayBuffer());
  const deadline = Date.now() + TIME_BOX_MS;
  await inParallel(count, CONCURRENCY, async (i) => {
    if (Date.now() > deadline) return;
    const { ms, result } = await timed(() => request(i));
    await result.arrayBuffer();
    if (result.status >= 500) throw new Error(`${result.url} answered ${result.status}`);
    times.push(ms);
  });
  times.sort((a, b) => a - b);
  const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!);
  return { p50: at(0.5), p99: at(0.99) };
}

export async function outboxSend(
  db: Connection,
  capture: Awaited<ReturnType<typeof startSendgridCapture>>,
  run: string,
) {
  const EMAILS = 100;
  capture.reset();
  // Sign-ups and sign-ins above queued their own mail; send that first so only these are timed.
  await workerAgainstCapture(db, capture, systemClock, { concurrency: 8 }).drain();
  capture.reset();
  await inParallel(EMAILS, 8, (i) =>
    enqueueEmail(db, systemClock, {
      template: 'member-welcome',
      to: { email: `outbox-${run}-${i}@example.com` },
      data: { name: `Reader ${i}`, planName: 'Monthly', accountUrl: `https://members.test/a/${i}` },
      idempotencyKey: `scale:${run}:${i}`,
    }),
  );
  const worker = workerAgainstCapture(db, capture, systemClock, { concurrency: 8 });
  const { ms } = await timed(() => worker.drain());
  const sent = capture.accepted().length;
  if (sent !== EMAILS) throw new Error(`outbox sent ${sent} of ${EMAILS}`);
  return { perSecond: round((EMAILS / ms) * 1000) };
}
