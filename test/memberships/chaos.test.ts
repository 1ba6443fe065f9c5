import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { countOf } from '../../src/campaigns/campaign.service.js';
import { rebuildCampaignCounts } from '../../src/campaigns/rebuild.js';
import { emailModels } from '../../src/email/email.model.js';
import { connectDatabase, ensureIndexes } from '../../src/infra/db.js';
import {
  type EmbeddedDatabase,
  findOrBuildFerretDb,
  freePort,
  startFerretDb,
} from '../../src/infra/embedded-db.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { supportersTotal } from '../../src/memberships/supporters.js';
import { registerModels } from '../../src/models.js';
import { deep } from '../support/depth.js';
import {
  checkoutSession,
  dispute,
  postEvent,
  purchase,
  settleStripeEvents,
  stripeEvent,
  T0,
  type TestEvent,
  unappliedEvents,
} from '../support/stripe-events.js';
import { startTestApp, testConfig } from '../support/test-app.js';

// Hundreds of realistic Stripe events for a few dozen readers, ~30 % delivered twice, shuffled, ten
// at a time through the signed webhook, with this test's own database killed and restarted
// mid-run; every non-2xx is sent again, as Stripe does. Then members, subscriptions, the ledger
// per currency, the campaign count and the emails queued must be exactly what the generator's own
// model of those events says. CHAOS_SEEDS / CHAOS_READERS run more (e.g. CHAOS_SEEDS=50); TEST_DEPTH
// multiplies the seeds (three everyday, thirty in `npm run test:deep`). The seeds run one after
// another: each is CPU-bound (run side by side, five took as long as in a row on two cores).

const SEEDS = Number(process.env.CHAOS_SEEDS ?? deep(3));
/**
 * How long the database stays down: longer than the app waits for it (DB_TIMEOUT_MS), so that
 * deliveries meanwhile fail and Stripe sends them again, as well as the applies in flight.
 */
const OUTAGE_MS = Number(process.env.CHAOS_OUTAGE_MS ?? 1_500);
const DB_TIMEOUT_MS = 1_000;
const READERS = Number(process.env.CHAOS_READERS ?? 20);
const FIRST_SEED = Number(process.env.CHAOS_FIRST_SEED ?? 1);
const CONCURRENCY = 10;
const PERIOD = 30 * 86_400;
const CAMPAIGN_START = new Date((T0 - 86_400) * 1000);
const CAMPAIGN_END = new Date((T0 + 10 * 365 * 86_400) * 1000);

/** mulberry32: a small seeded PRNG, so a failing seed replays exactly. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    chance: (p: number) => next() < p,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
  };
}
type Rng = ReturnType<typeof prng>;

// What the service promises, restated independently of its code.
const ENDED = new Set(['canceled']);
const RANK: Record<string, number> = { incomplete: 0, canceled: 2 };
const MEMBER_STATUS: Record<string, string> = {
  active: 'active',
  past_due: 'past_due',
  canceled: 'canceled',
};

interface SubEvent {
  id: string;
  created: number;
  status: string;
}
const newer = (a: SubEvent, b: SubEvent) => {
  const key = (e: SubEvent) => [ENDED.has(e.status) ? 1 : 0, e.created, RANK[e.status] ?? 1];
  const [ka, kb] = [key(a), key(b)];
  for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i]! > kb[i]!;
  return a.id > b.id;
};

interface Expected {
  members: Map<string, string>; // email → status
  subscriptions: Map<string, { status: string; lastEventId: string }>;
  ledger: Map<string, number>; // currency → sum
  count: number;
  emails: string[]; // "template email", sorted
}

/** One run's events and what they must leave behind. */
function generate(seed: number, readers: number): { events: TestEvent[]; expected: Expected } {
  const rng = prng(seed);
  const events: TestEvent[] = [];
  const expected: Expected = {
    members: new Map(),
    subscriptions: new Map(),
    ledger: new Map(),
    count: 0,
    emails: [],
  };
  const money = (currency: string, amount: number) =>
    expected.ledger.set(currency, (expected.ledger.get(currency) ?? 0) + amount);
  const readerOf = new Map<TestEvent, number>();
  let reader = 0;
  const add = (type: string, object: Record<string, unknown>, created: number) => {
    const event = stripeEvent(type, object, created);
    events.push(event);
    readerOf.set(event, reader);
    return event;
  };

  /** Refunds (full or partial, in one or two steps) and disputes of one charge. Returns whether its money went back (refunded in full, or a dispute lost). */
  function refundsAndDisputes(p: Purchase, paymentIntent: string, paidAt: number): boolean {
    const chargeOf = (amountRefunded: number) => ({
      id: `ch_${paymentIntent}`,
      object: 'charge',
      amount: p.amount,
      amount_refunded: amountRefunded,
      refunded: amountRefunded === p.amount,
      currency: p.currency,
      customer: p.customer,
      payment_intent: paymentIntent,
      metadata: {},
    });
    let full = false;
    if (rng.chance(0.3)) {
      full = rng.chance(0.5);
      const partial = rng.int(1, p.amount - 1);
      const totals = rng.chance(0.5)
        ? [full ? p.amount : partial]
        : [partial, full ? p.amount : rng.int(partial, p.amount - 1)];
      for (const [i, total] of totals.entries()) add('charge.refunded', chargeOf(total), paidAt + 1000 + i);
      money(p.currency, -totals.at(-1)!);
    }
    // Disputes book what their balance transactions say Stripe moved: an inquiry moves nothing;
    // a chargeback withdraws the amount, winning reinstates it, losing takes the payment back.
    let lost = false;
    if (rng.chance(0.15)) {
      const paid = { ...p, paymentIntent };
      const id = `dp_${paymentIntent}`;
      const at = paidAt + 2000;
      if (rng.chance(0.05 / 0.15))
        add('radar.early_fraud_warning.created', fraudWarning(paid, id), paidAt + 1500);
      if (rng.chance(0.3)) {
        add('charge.dispute.created', dispute(paid, 'warning_needs_response', id, { at }), at);
        add('charge.dispute.closed', dispute(paid, 'warning_closed', id, { at }), at + 1000);
      } else {
        const won = rng.chance(0.5);
        const moved = { at, reinstatedAt: at + 1000 };
        add('charge.dispute.created', dispute(paid, 'needs_response', id, moved), at);
        if (rng.chance(0.5))
          add('charge.dispute.funds_withdrawn', dispute(paid, 'needs_response', id, moved), at + 1);
        money(p.currency, -p.amount);
        if (won) {
          if (rng.chance(0.5))
            add('charge.dispute.funds_reinstated', dispute(paid, 'won', id, moved), at + 1000);
          money(p.currency, p.amount);
        }
        add('charge.dispute.closed', dispute(paid, won ? 'won' : 'lost', id, moved), at + 1001);
        lost = !won;
      }
    }
    return full || lost;
  }

  for (let i = 0; i < readers; i++) {
    reader = i;
    const t = T0 + i * 1000;
    const p = purchase({
      email: `reader${i}-seed${seed}@example.com`,
      currency: rng.pick(['eur', 'usd', 'gbp']),
      amount: rng.pick([500, 1000, 1500]),
      campaign: 'chaos',
    });
    if (rng.chance(0.25)) {
      // A one-time contribution: money and a receipt, no membership.
      add('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }), t);
      money(p.currency, p.amount);
      expected.emails.push(`contribution-receipt ${p.email}`);
      refundsAndDisputes(p, p.paymentIntent, t);
      continue;
    }

    const renewals = rng.int(0, 2);
    const subEvents: SubEvent[] = [];
    const subscriptionAt = (type: string, status: string, created: number, periodEnd: number) => {
      const event = add(
        type,
        {
          ...subscriptionObject(p, status, periodEnd),
          cancel_at_period_end:
            type === 'customer.subscription.updated' && status === 'active' && rng.chance(0.1),
        },
        created,
      );
      subEvents.push({
        id: event.id,
        created,
        status: type === 'customer.subscription.deleted' ? 'canceled' : status,
      });
    };
    // A trial: nothing paid at checkout, a $0 first invoice; the reader counts toward the drive at
    // their first payment with money (ADR 0011), so a trial that never converts never counts.
    const trial = rng.chance(0.15);
    add(
      'checkout.session.completed',
      trial
        ? { ...checkoutSession(p, { paymentStatus: 'no_payment_required' }), amount_total: 0 }
        : checkoutSession(p),
      t,
    );
    if (rng.chance(0.2)) subscriptionAt('customer.subscription.created', 'incomplete', t + 1, t + PERIOD);
    subscriptionAt(
      subEvents.length ? 'customer.subscription.updated' : 'customer.subscription.created',
      'active',
      t + 1,
      t + PERIOD,
    );
    let fullyRefundedFirst = false;
    for (let k = 0; k <= renewals; k++) {
      const paidAt = k === 0 ? t + 2 : t + k * PERIOD;
      const paymentIntent = `pi_${p.subscription}_${k}`;
      if (k > 0) {
        if (rng.chance(0.3))
          subscriptionAt('customer.subscription.updated', 'past_due', paidAt - 50, t + k * PERIOD);
        subscriptionAt('customer.subscription.updated', 'active', paidAt, t + (k + 1) * PERIOD);
      }
      const linkInline = rng.chance(0.5);
      const inv = invoiceObject(
        p,
        `in_${p.subscription}_${k}`,
        k === 0,
        paidAt,
        t + (k + 1) * PERIOD,
        linkInline ? paymentIntent : undefined,
      );
      if (trial && k === 0) {
        add('invoice.paid', { ...inv, amount_paid: 0, amount_due: 0, payments: undefined }, paidAt);
        continue;
      }
      add('invoice.paid', inv, paidAt);
      if (!linkInline)
        add(
          'invoice_payment.paid',
          {
            id: `inpay_${paymentIntent}`,
            object: 'invoice_payment',
            invoice: inv.id,
            status: 'paid',
            payment: { type: 'payment_intent', payment_intent: paymentIntent },
          },
          paidAt,
        );
      money(p.currency, p.amount);
      const full = refundsAndDisputes(p, paymentIntent, paidAt);
      // The payment that made the reader count: the first invoice, or a trial's first with money.
      if (k === (trial ? 1 : 0)) fullyRefundedFirst = full;
    }
    if (rng.chance(0.35))
      subscriptionAt(
        'customer.subscription.deleted',
        'canceled',
        t + (renewals + 1) * PERIOD,
        t + (renewals + 1) * PERIOD,
      );

    const newest = subEvents.reduce((a, b) => (newer(b, a) ? b : a));
    expected.subscriptions.set(p.subscription, { status: newest.status, lastEventId: newest.id });
    expected.members.set(p.email, MEMBER_STATUS[newest.status]!);
    expected.emails.push(`member-welcome ${p.email}`);
    if (newest.status === 'canceled') expected.emails.push(`membership-canceled ${p.email}`);
    // A full refund or lost dispute takes back the payment that made the reader count: the first
    // invoice's, or for a trial (its first invoice $0) the one billing the period after it (ADR 0011).
    if ((trial ? renewals > 0 : true) && !fullyRefundedFirst) expected.count++;
  }
  expected.emails.sort();

  // Stripe delivers some events twice, and in any order. Shuffled within a window of about three
  // readers, so each batch of ten concurrent deliveries holds several events of one reader: that
  // contention is what a read-check-write loses to. A third of the time, fully shuffled.
  const spread = rng.chance(0.33) ? readers : 3;
  const keyed = events.flatMap((event) =>
    Array.from({ length: rng.chance(0.3) ? 2 : 1 }, () => ({
      event,
      key: readerOf.get(event)! + rng.next() * spread,
    })),
  );
  keyed.sort((a, b) => a.key - b.key);
  events.splice(0, events.length, ...keyed.map((k) => k.event));
  return { events, expected };
}

type Purchase = ReturnType<typeof purchase>;

/** A card issuer's early fraud warning: with the default settings it books and refunds nothing. */
function fraudWarning(p: Purchase, disputeId: string) {
  return {
    id: `issfr_${disputeId}`,
    object: 'radar.early_fraud_warning',
    actionable: true,
    charge: `ch_${p.paymentIntent}`,
    payment_intent: p.paymentIntent,
    fraud_type: 'made_with_stolen_card',
    created: T0,
    livemode: false,
  };
}

function subscriptionObject(p: Purchase, status: string, periodEnd: number) {
  return {
    id: p.subscription,
    object: 'subscription',
    customer: p.customer,
    status,
    metadata: {
      app: 'membership-drive',
      kind: 'membership',
      plan: p.plan,
      interval: p.interval,
      locale: 'en',
    },
    items: {
      object: 'list',
      data: [
        {
          id: `si_${p.subscription}`,
          current_period_start: periodEnd - PERIOD,
          current_period_end: periodEnd,
          price: { unit_amount: p.amount, currency: p.currency, recurring: { interval: p.interval } },
        },
      ],
    },
  };
}

function invoiceObject(
  p: Purchase,
  id: string,
  first: boolean,
  paidAt: number,
  periodEnd: number,
  paymentIntent?: string,
) {
  return {
    id,
    object: 'invoice',
    customer: p.customer,
    customer_email: p.email,
    customer_name: 'Chaos Reader',
    amount_paid: p.amount,
    amount_due: p.amount,
    currency: p.currency,
    status: 'paid',
    billing_reason: first ? 'subscription_create' : 'subscription_cycle',
    status_transitions: { paid_at: paidAt },
    parent: {
      type: 'subscription_details',
      subscription_details: {
        subscription: p.subscription,
        metadata: {
          app: 'membership-drive',
          kind: 'membership',
          plan: p.plan,
          interval: p.interval,
          locale: 'en',
          campaign: 'chaos',
        },
      },
    },
    lines: { object: 'list', data: [{ period: { start: periodEnd - PERIOD, end: periodEnd } }] },
    ...(paymentIntent
      ? {
          payments: {
            object: 'list',
            data: [{ payment: { type: 'payment_intent', payment_intent: paymentIntent } }],
          },
        }
      : {}),
  };
}

let server: EmbeddedDatabase;
let port: number;
let dataDir: string;
let binary: string;

beforeAll(async () => {
  binary = await findOrBuildFerretDb(() => {});
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'chaos-ferretdb-'));
  port = await freePort();
  server = await startFerretDb(binary, dataDir, port);
}, 60_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Sends every event until it is accepted, CONCURRENCY at a time; stops the database once, mid-run. */
async function deliver(url: string, events: TestEvent[], rng: Rng) {
  const queue = [...events];
  const outageAfter = Math.floor(events.length * (0.3 + rng.next() * 0.3));
  let sent = 0;
  let outage: Promise<void> | undefined;
  let rejected = 0;
  const attempts = new Map<string, number>();
  const statuses = new Map<string, number>();
  const progress = process.env.CHAOS_DEBUG
    ? setInterval(
        () => console.error(`sent ${sent} queued ${queue.length} rejected ${rejected}`, [...statuses]),
        2_000,
      )
    : undefined;
  const worker = async () => {
    while (queue.length > 0) {
      const event = queue.shift()!;
      if (++sent === outageAfter) {
        outage = (async () => {
          // Killed, not asked to stop: FerretDB's graceful stop waits ~3 s for its clients, which
          // adds time, not chaos. Its SQLite keeps every committed write through a kill.
          process.kill(server.pid!, 'SIGKILL');
          await server.stop();
          await new Promise((r) => setTimeout(r, OUTAGE_MS));
          server = await startFerretDb(binary, dataDir, port);
        })();
      }
      // A delivery Stripe gives up waiting for counts as failed and is sent again.
      const ok = await postEvent(url, event, AbortSignal.timeout(20_000))
        .then(async (res) => {
          const body = await res.text();
          const key = `${res.status} ${event.type} ${res.status === 200 ? '' : body.slice(0, 80)}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          return res.status >= 200 && res.status < 300;
        })
        .catch(() => false);
      if (!ok) {
        rejected++;
        const n = (attempts.get(event.id) ?? 0) + 1;
        attempts.set(event.id, n);
        if (n > 300) throw new Error(`event ${event.id} (${event.type}) never accepted`);
        queue.push(event); // Stripe sends it again later
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  // Workers idle while others still hold events that may come back: loop until all settle.
  while (queue.length > 0) await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await outage;
  clearInterval(progress);
  return { rejected, outage: outage !== undefined };
}

async function actualState(db: Connection, campaignId: unknown) {
  const { Member, Subscription } = membershipModels(db);
  const members = new Map((await Member.find().lean()).map((m) => [m.email, m.status as string]));
  const subscriptions = new Map(
    (await Subscription.find().lean()).map((s) => [s._id, { status: s.status, lastEventId: s.lastEventId }]),
  );
  const ledger = new Map<string, number>();
  for (const e of await ledgerModel(db).find().lean())
    ledger.set(e.currency, (ledger.get(e.currency) ?? 0) + e.amount);
  const campaign = (await campaignModels(db).Campaign.findById(campaignId).lean())!;
  const emails = (await emailModels(db).EmailJob.find().lean())
    .map((j) => `${j.template} ${j.to.email}`)
    .sort();
  const unapplied = await unappliedEvents(db);
  return { members, subscriptions, ledger, count: await countOf(db, campaign), emails, unapplied };
}

describe('chaos: concurrent, duplicated, shuffled Stripe events with a database outage', () => {
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
    it(`when seed ${seed}'s events arrive shuffled, duplicated and ten at a time through an outage, then the state is exactly what they say`, async () => {
      const { events, expected } = generate(seed, READERS);
      const db = await connectDatabase({
        uri: `mongodb://127.0.0.1:${port}/chaos_${seed}`,
        poolSize: CONCURRENCY + 5,
        timeoutMs: DB_TIMEOUT_MS,
        heartbeatMs: 500,
      });
      registerModels(db);
      await ensureIndexes(db);
      const campaign = await campaignModels(db).Campaign.create({
        slug: 'chaos',
        title: 'Chaos drive',
        goal: 1000,
        startsAt: CAMPAIGN_START,
        endsAt: CAMPAIGN_END,
        timeZone: 'UTC',
        startingOffset: 0,
      });
      const app = await startTestApp({
        db,
        ...(process.env.CHAOS_DEBUG ? { config: testConfig({ LOG_LEVEL: 'error' }) } : {}),
      });
      try {
        const run = await deliver(app.url, events, prng(seed * 7919));
        // What failed to apply during the outage is retried by our queue, as time passes.
        await settleStripeEvents(app);
        const actual = await actualState(db, campaign._id);
        const context = `seed ${seed} (CHAOS_FIRST_SEED=${seed} CHAOS_SEEDS=1 to replay): ${events.length} deliveries, ${run.rejected} resent`;
        expect(run.outage, context).toBe(true);
        expect(actual.unapplied, context).toBe(0);
        expect(actual.subscriptions, context).toEqual(expected.subscriptions);
        expect(actual.members, context).toEqual(expected.members);
        expect(actual.ledger, context).toEqual(expected.ledger);
        expect(actual.count, context).toBe(expected.count);
        expect(actual.emails, context).toEqual(expected.emails);
        // The maintained supporters total survives the outage too, with no audit run.
        const active = [...expected.members.values()].filter((status) => status === 'active').length;
        expect(await supportersTotal(db, new Date()), context).toBe(active);
        // The rebuild recomputes the count from members and the ledger: it must agree with the
        // live tally and with the stored records, whatever order the events came in.
        const [rebuilt] = await rebuildCampaignCounts(db);
        expect(rebuilt, context).toMatchObject({
          live: expected.count,
          stored: expected.count,
          recomputed: expected.count,
          missing: [],
          extra: [],
          wronglyRevoked: [],
          notRevoked: [],
        });
      } finally {
        await app.close();
        await db.dropDatabase().catch(() => {});
        await db.close();
      }
    }, 180_000);
  }
});
