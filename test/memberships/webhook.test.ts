import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { emailModels } from '../../src/email/email.model.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { supportersTotal } from '../../src/memberships/supporters.js';
import type { MemberJoined } from '../../src/shared/domain-events.js';
import { stripeEventModel } from '../../webhooks/stripe-event.model.js';
import { STRIPE_EVENT_HANDLERS } from '../../webhooks/stripe-handlers.js';
import {
  charge,
  checkoutSession,
  dispute,
  invoice,
  outcomeOf,
  postEvent,
  purchase,
  retryStripeEvents,
  serialize,
  settleStripeEvents,
  signedHeaders,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let app: TestApp;
const joined: MemberJoined[] = [];
let failNextInvoice = false;
let invoicePaidCalls = 0;

beforeAll(async () => {
  app = await startTestApp({
    deps: {
      stripeEventHandlers: {
        ...STRIPE_EVENT_HANDLERS,
        'invoice.paid': async (deps, event) => {
          invoicePaidCalls++;
          if (failNextInvoice) {
            failNextInvoice = false;
            throw new Error('database hiccup');
          }
          return STRIPE_EVENT_HANDLERS['invoice.paid']!(deps, event);
        },
      },
    },
  });
  app.deps.events.on('member.joined', (event) => {
    joined.push(event);
  });
});
afterAll(() => app.close());
afterEach(async () => {
  joined.length = 0;
  await Promise.all(
    [
      'members',
      'subscriptions',
      'subscription_observations',
      'ledger',
      'payment_links',
      'refund_steps',
      'stripe_events',
      'email_jobs',
    ].map((c) => app.deps.db.collection(c).deleteMany({})),
  );
});

const models = () => ({
  ...membershipModels(app.deps.db),
  Ledger: ledgerModel(app.deps.db),
  ...emailModels(app.deps.db),
});
const send = async (type: string, object: Record<string, unknown>, created = T0) => {
  const event = stripeEvent(type, object, created);
  const res = await postEvent(app.url, event);
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    outcome: await outcomeOf(app.url, event.id),
  };
};
const invoicePayments = (paymentIntent: string) => ({
  object: 'list',
  data: [
    {
      id: `inpay_${paymentIntent}`,
      object: 'invoice_payment',
      status: 'paid',
      payment: { type: 'payment_intent', payment_intent: paymentIntent },
    },
  ],
});
const member = (email: string) => models().Member.findOne({ email }).lean();
const emailsTo = (email: string) =>
  models().EmailJob.find({ 'to.email': email }).sort({ createdAt: 1 }).lean();

describe('membership flows', () => {
  for (const [label, overrides] of [
    ['monthly', { plan: 'supporter', interval: 'month', amount: 500 }],
    ['yearly', { plan: 'patron', interval: 'year', amount: 15000 }],
    ['custom amount', { plan: 'custom', interval: 'month', amount: 700 }],
  ] as const) {
    it(`when a ${label} membership is paid, then the reader is an active member with a subscription, a ledger entry and a welcome email`, async () => {
      const p = purchase(overrides);
      expect((await send('checkout.session.completed', checkoutSession(p))).status).toBe(200);
      expect((await send('customer.subscription.created', subscription(p, 'active'), T0 + 1)).status).toBe(
        200,
      );
      const inv = invoice(p);
      expect((await send('invoice.paid', inv, T0 + 2)).status).toBe(200);

      expect(await member(p.email)).toMatchObject({
        status: 'active',
        source: 'checkout',
        stripeCustomerId: p.customer,
        joinedAt: new Date(T0 * 1000),
        currentPeriodEnd: new Date((T0 + (p.interval === 'year' ? 365 : 30) * 86400) * 1000),
      });
      expect(await models().Subscription.findById(p.subscription).lean()).toMatchObject({
        status: 'active',
        plan: p.plan,
        interval: p.interval,
        amount: p.amount,
        currency: 'eur',
      });
      expect(await models().Ledger.find().lean()).toEqual([
        expect.objectContaining({
          _id: inv.id,
          kind: 'subscription_payment',
          amount: p.amount,
          currency: 'eur',
          email: p.email,
        }),
      ]);
      const emails = await emailsTo(p.email);
      expect(emails.map((e) => e.template)).toEqual(['member-welcome']);
      expect(emails[0]!.data).toMatchObject({ accountUrl: 'http://members.test/account' });
      // Published at least once (listeners are idempotent), always with the same facts.
      expect(new Set(joined.map((j) => JSON.stringify(j)))).toEqual(
        new Set([
          JSON.stringify({ ...joined[0], email: p.email, joinedAt: new Date(T0 * 1000), source: 'checkout' }),
        ]),
      );
    });
  }

  it('when a one-time contribution is paid, then it is in the ledger with a receipt, and no membership is created', async () => {
    const p = purchase({ amount: 2500 });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
    expect(await member(p.email)).toBeNull();
    expect(await models().Ledger.findById(p.paymentIntent).lean()).toMatchObject({
      kind: 'one_time_payment',
      amount: 2500,
      currency: 'eur',
      checkoutSessionId: p.session,
    });
    const [receipt] = await emailsTo(p.email);
    expect(receipt).toMatchObject({
      template: 'contribution-receipt',
      kind: 'receipt',
      data: { amount: 2500, currency: 'EUR' },
    });
  });

  it('when a renewal fails, then the reader is emailed a link to update the card', async () => {
    const p = purchase();
    await send('checkout.session.completed', checkoutSession(p));
    await send('invoice.payment_failed', invoice(p, { paid: false }), T0 + 30 * 86400);
    const templates = (await emailsTo(p.email)).map((e) => e.template);
    expect(templates).toEqual(['member-welcome', 'payment-failed']);
    expect((await emailsTo(p.email))[1]!.data).toMatchObject({
      amount: 500,
      updateUrl: expect.stringMatching(
        new RegExp(`^http://members\\.test/account/card\\?c=${p.customer}&i=in_\\w+&e=\\d+&sig=[\\w-]{43}$`),
      ),
    });
  });
});

describe('duplicates and ordering', () => {
  it('when the same event arrives 10 times at once, then it has one effect', async () => {
    const p = purchase();
    const event = stripeEvent('checkout.session.completed', checkoutSession(p));
    const responses = await Promise.all(Array.from({ length: 10 }, () => postEvent(app.url, event)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await models().Member.countDocuments({ email: p.email })).toBe(1);
    expect(await models().Subscription.countDocuments()).toBe(1);
    expect(await models().EmailJob.countDocuments({ template: 'member-welcome' })).toBe(1);
    expect(await stripeEventModel(app.deps.db).countDocuments()).toBe(1);
  });

  it('when the same invoice.paid arrives 10 times at once, then the money is recorded once', async () => {
    const p = purchase();
    const event = stripeEvent('invoice.paid', invoice(p));
    await Promise.all(Array.from({ length: 10 }, () => postEvent(app.url, event)));
    expect(await models().Ledger.countDocuments()).toBe(1);
    expect(await models().Member.countDocuments()).toBe(1);
  });

  it('when completed and async_payment_succeeded both arrive for one session, then it is fulfilled once', async () => {
    const p = purchase({ amount: 1000 });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
    await send('checkout.session.async_payment_succeeded', checkoutSession(p, { kind: 'one_time' }), T0 + 60);
    expect(await models().Ledger.countDocuments()).toBe(1);
    expect(await models().EmailJob.countDocuments({ template: 'contribution-receipt' })).toBe(1);
  });

  it('when payment is delayed (unpaid at completion), then nothing is granted until it succeeds, and nothing if it fails', async () => {
    const later = purchase();
    expect(
      (await send('checkout.session.completed', checkoutSession(later, { paymentStatus: 'unpaid' }))).outcome,
    ).toBe('pending');
    expect(await member(later.email)).toBeNull();
    await send('checkout.session.async_payment_succeeded', checkoutSession(later), T0 + 3600);
    expect(await member(later.email)).toMatchObject({
      status: 'active',
      joinedAt: new Date((T0 + 3600) * 1000),
    });

    const never = purchase();
    await send('checkout.session.completed', checkoutSession(never, { paymentStatus: 'unpaid' }));
    await send(
      'checkout.session.async_payment_failed',
      checkoutSession(never, { paymentStatus: 'unpaid' }),
      T0 + 3600,
    );
    expect(await member(never.email)).toBeNull();
    expect(await models().Ledger.countDocuments({ email: never.email })).toBe(0);
    expect(await emailsTo(never.email)).toEqual([]);
  });

  it('when updated(active) arrives before created(incomplete), then the subscription is active', async () => {
    const p = purchase();
    await send('checkout.session.completed', checkoutSession(p));
    await send('customer.subscription.updated', subscription(p, 'active'), T0 + 2);
    await send('customer.subscription.created', subscription(p, 'incomplete'), T0 + 1);
    expect((await models().Subscription.findById(p.subscription).lean())!.status).toBe('active');
    expect((await member(p.email))!.status).toBe('active');
  });

  it('when both happen in the same second, then incomplete never overwrites active', async () => {
    const p = purchase();
    await send('checkout.session.completed', checkoutSession(p));
    await send('customer.subscription.updated', subscription(p, 'active'), T0 + 1);
    await send('customer.subscription.created', subscription(p, 'incomplete'), T0 + 1);
    expect((await models().Subscription.findById(p.subscription).lean())!.status).toBe('active');
  });

  it('when deleted is followed by a stale updated(active), then the membership stays canceled', async () => {
    const p = purchase();
    await send('checkout.session.completed', checkoutSession(p));
    await send('customer.subscription.deleted', subscription(p, 'canceled'), T0 + 100);
    await send('customer.subscription.updated', subscription(p, 'active'), T0 + 50);
    await send('customer.subscription.updated', subscription(p, 'active'), T0 + 100);
    expect((await models().Subscription.findById(p.subscription).lean())!.status).toBe('canceled');
    expect((await member(p.email))!.status).toBe('canceled');
    expect((await emailsTo(p.email)).map((e) => e.template)).toEqual([
      'member-welcome',
      'membership-canceled',
    ]);
  });

  it('when created, a newer updated(active) and an older updated(past_due) arrive at the same moment, then the newest wins, in every one of 20 trials', async () => {
    for (let trial = 0; trial < 20; trial++) {
      const p = purchase();
      await send('checkout.session.completed', checkoutSession(p));
      const events = [
        stripeEvent('customer.subscription.created', subscription(p, 'active'), T0 + 1),
        stripeEvent('customer.subscription.updated', subscription(p, 'active'), T0 + 200),
        stripeEvent('customer.subscription.updated', subscription(p, 'past_due'), T0 + 100),
      ];
      const statuses = await Promise.all(events.map((e) => postEvent(app.url, e).then((r) => r.status)));
      expect(statuses).toEqual([200, 200, 200]);
      expect(await models().Subscription.findById(p.subscription).lean(), `trial ${trial}`).toMatchObject({
        status: 'active',
        lastEventCreated: T0 + 200,
        lastEventId: events[1]!.id,
      });
      expect((await member(p.email))!.status, `trial ${trial}`).toBe('active');
    }
  });

  it('when a cancellation fails after the subscription was written, then our retry ends the membership and queues the email', async () => {
    const p = purchase();
    await send('checkout.session.completed', checkoutSession(p));
    const deleted = stripeEvent('customer.subscription.deleted', subscription(p, 'canceled'), T0 + 100);
    const memberUpdate = vi
      .spyOn(models().Member, 'updateOne')
      .mockImplementationOnce(() => Promise.reject(new Error('database down')) as never);
    try {
      expect((await postEvent(app.url, deleted)).status).toBe(200); // stored: ours to finish now
    } finally {
      memberUpdate.mockRestore();
    }
    expect((await models().Subscription.findById(p.subscription).lean())!.status).toBe('canceled');
    expect((await member(p.email))!.status).toBe('active'); // half-applied, as a crash leaves it
    expect(await stripeEventModel(app.deps.db).findById(deleted.id).lean()).toMatchObject({
      status: 'received',
      attempts: 1,
      lastError: 'database down',
    });

    expect(await retryStripeEvents(app)).toBe(1);
    expect(await member(p.email)).toMatchObject({ status: 'canceled', endedAt: new Date((T0 + 100) * 1000) });
    expect((await emailsTo(p.email)).map((e) => e.template)).toEqual([
      'member-welcome',
      'membership-canceled',
    ]);
    expect(await stripeEventModel(app.deps.db).findById(deleted.id).lean()).toMatchObject({
      status: 'applied',
      attempts: 2,
    });
  });

  it('when a cancellation is written but the process dies before the supporters total follows, then the retry brings the total down', async () => {
    const p = purchase();
    await send('checkout.session.completed', checkoutSession(p));
    const total = () => supportersTotal(app.deps.db, new Date());
    const before = await total();
    const transitions = app.deps.db.model('SupporterTransition');
    const dies = vi.spyOn(transitions, 'create').mockRejectedValueOnce(new Error('process killed'));
    try {
      const deleted = stripeEvent('customer.subscription.deleted', subscription(p, 'canceled'), T0 + 100);
      expect((await postEvent(app.url, deleted)).status).toBe(200);
    } finally {
      dies.mockRestore();
    }
    expect((await member(p.email))!.status).toBe('canceled'); // written; its reconcile never ran
    expect(await total()).toBe(before);
    expect(await retryStripeEvents(app)).toBe(1);
    expect(await total()).toBe(before! - 1);
  });

  it('when a subscription event arrives before we know the member, then it waits and applies at its retry after the checkout', async () => {
    const p = purchase();
    const early = stripeEvent('customer.subscription.updated', subscription(p, 'past_due'), T0 + 5);
    expect((await postEvent(app.url, early)).status).toBe(200);
    expect(await outcomeOf(app.url, early.id)).toBe('received');
    await send('checkout.session.completed', checkoutSession(p));
    expect((await member(p.email))!.status).toBe('active');
    expect(await retryStripeEvents(app)).toBe(1);
    expect((await member(p.email))!.status).toBe('past_due');
  });
});

describe('refunds and disputes', () => {
  it('when a payment is refunded in two parts, then the ledger holds two negative entries that add up', async () => {
    const p = purchase({ amount: 3000 });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
    await send('charge.refunded', charge(p, { amountRefunded: 1000, kind: 'one_time' }), T0 + 100);
    await send('charge.refunded', charge(p, { amountRefunded: 3000, kind: 'one_time' }), T0 + 200);
    await send('charge.refunded', charge(p, { amountRefunded: 1000, kind: 'one_time' }), T0 + 100); // redelivered, different event id
    const refunds = await models().Ledger.find({ kind: 'refund' }).sort({ occurredAt: 1 }).lean();
    expect(refunds.map((r) => [r.amount, r.reverses])).toEqual([
      [-1000, p.paymentIntent],
      [-2000, p.paymentIntent],
    ]);
    const total = (await models().Ledger.find().lean()).reduce((sum, e) => sum + e.amount, 0);
    expect(total).toBe(0);
  });

  it('when three growing refund totals of one charge arrive at once, twice each, then the ledger takes back exactly the largest', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const p = purchase({ amount: 3000 });
      await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
      const events = [1000, 2500, 3000].flatMap((refunded, i) => {
        const event = stripeEvent('charge.refunded', charge(p, { amountRefunded: refunded }), T0 + 100 + i);
        return [event, event];
      });
      const statuses = await Promise.all(events.map((e) => postEvent(app.url, e).then((r) => r.status)));
      expect(statuses).toEqual(Array(6).fill(200));
      const refunds = await models()
        .Ledger.find({ kind: 'refund', chargeId: `ch_${p.paymentIntent}` })
        .lean();
      expect(
        refunds.reduce((sum, r) => sum + r.amount, 0),
        `trial ${trial}`,
      ).toBe(-3000);
      expect(refunds.filter((r) => r.fullRefund)).toHaveLength(1);
    }
  });

  it('when a refund and a dispute arrive before their payment, then they are acknowledged, kept, and applied once at their retry after the payment', async () => {
    const p = purchase({ amount: 2000 });
    const refund = stripeEvent('charge.refunded', charge(p, { amountRefunded: 500 }), T0 + 100);
    const opened = stripeEvent(
      'charge.dispute.created',
      dispute(p, 'needs_response', undefined, { at: T0 + 200 }), // withdrawn with the dispute
      T0 + 200,
    );
    expect((await postEvent(app.url, refund)).status).toBe(200);
    expect((await postEvent(app.url, opened)).status).toBe(200);
    expect(await stripeEventModel(app.deps.db).findById(refund.id).lean()).toMatchObject({
      status: 'received',
      attempts: 1,
    });
    expect(await models().Ledger.countDocuments()).toBe(0);

    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
    // Stripe may also send them again meanwhile: acknowledged, still one effect each.
    for (const event of [refund, opened]) expect((await postEvent(app.url, event)).status).toBe(200);
    while ((await retryStripeEvents(app)) > 0);
    const entries = await models().Ledger.find().sort({ occurredAt: 1 }).lean();
    expect(entries.map((e) => [e.kind, e.amount, e.reverses ?? null])).toEqual([
      ['one_time_payment', 2000, null],
      ['refund', -500, p.paymentIntent],
      ['dispute', -2000, p.paymentIntent],
    ]);
  });

  it('when a renewal is refunded by a charge that names only its PaymentIntent, then the refund is linked to the invoice from the event data alone', async () => {
    const p = purchase({ amount: 500 });
    await send('checkout.session.completed', checkoutSession(p));
    const viaPayments = { ...invoice(p), payments: invoicePayments(p.paymentIntent) };
    await send('invoice.paid', viaPayments, T0 + 2);
    const renewal = purchase({ ...p, paymentIntent: `${p.paymentIntent}_2` });
    const viaEvent = invoice(renewal);
    await send('invoice.paid', viaEvent, T0 + 30 * 86400);
    await send(
      'invoice_payment.paid',
      {
        id: 'inpay_2',
        object: 'invoice_payment',
        invoice: viaEvent.id,
        payment: invoicePayments(renewal.paymentIntent).data[0]!.payment,
      },
      T0 + 30 * 86400,
    );
    await send('charge.refunded', charge(p, { amountRefunded: 500 }), T0 + 100);
    await send('charge.refunded', charge(renewal, { amountRefunded: 200 }), T0 + 31 * 86400);
    const refunds = await models().Ledger.find({ kind: 'refund' }).sort({ occurredAt: 1 }).lean();
    expect(refunds.map((r) => [r.reverses, r.amount, r.fullRefund ?? false, String(r.memberId)])).toEqual([
      [viaPayments.id, -500, true, String((await member(p.email))!._id)],
      [viaEvent.id, -200, false, String((await member(p.email))!._id)],
    ]);
  });

  it('when a charge is disputed and the dispute is won, then the money goes out and comes back', async () => {
    const p = purchase({ amount: 2000 });
    await send('checkout.session.completed', checkoutSession(p, { kind: 'one_time' }));
    await send('charge.dispute.created', dispute(p, 'needs_response'), T0 + 100);
    expect(await models().Ledger.findById(`dp_${p.paymentIntent}`).lean()).toMatchObject({
      kind: 'dispute',
      amount: -2000,
    });
    await send('charge.dispute.closed', dispute(p, 'won'), T0 + 900);
    expect(await models().Ledger.findById(`dp_${p.paymentIntent}:won`).lean()).toMatchObject({
      kind: 'dispute_reversal',
      amount: 2000,
    });
  });

  it('when a refund or dispute concerns a charge that is not ours, then nothing is recorded and it waits for a retry', async () => {
    const stranger = purchase();
    // Kept and retried (it cannot be told from one whose payment is still on its way).
    expect(await send('charge.refunded', charge(stranger, { amountRefunded: 500 }))).toMatchObject({
      status: 200,
      outcome: 'received',
    });
    expect(await send('charge.dispute.created', dispute(stranger, 'needs_response'))).toMatchObject({
      status: 200,
      outcome: 'received',
    });
    expect(await models().Ledger.countDocuments()).toBe(0);
  });
});

describe('what is not ours, and what goes wrong', () => {
  it('when a session carries no metadata of ours, then it is stored, acknowledged and ignored', async () => {
    const p = purchase();
    const res = await send('checkout.session.completed', checkoutSession(p, { metadata: { orderId: '42' } }));
    expect(res).toMatchObject({ status: 200, body: { outcome: 'queued' }, outcome: 'ignored' });
    expect(await member(p.email)).toBeNull();
    expect(await stripeEventModel(app.deps.db).countDocuments({ status: 'ignored' })).toBe(1);
  });

  it('when an event type is unknown, then it is stored and acknowledged', async () => {
    const res = await send('product.created', { id: 'prod_1', object: 'product' });
    expect(res).toMatchObject({ status: 200, body: { outcome: 'ignored' }, outcome: 'ignored' });
    expect(await stripeEventModel(app.deps.db).findOne({ type: 'product.created' }).lean()).toMatchObject({
      status: 'ignored',
    });
  });

  it('when a handler throws, then Stripe gets 200, the stored event records the failure, and our retry succeeds', async () => {
    const p = purchase();
    const event = stripeEvent('invoice.paid', invoice(p));
    failNextInvoice = true;
    const failed = await postEvent(app.url, event);
    expect(failed.status).toBe(200);
    expect(await failed.json()).toEqual({ received: true, duplicate: false, outcome: 'queued' });
    expect(await stripeEventModel(app.deps.db).findById(event.id).lean()).toMatchObject({
      status: 'received',
      attempts: 1,
      lastError: 'database hiccup',
    });
    expect(await models().Ledger.countDocuments()).toBe(0);

    expect(await retryStripeEvents(app)).toBe(1);
    expect(await stripeEventModel(app.deps.db).findById(event.id).lean()).toMatchObject({
      status: 'applied',
      attempts: 2,
    });
    expect(await models().Ledger.countDocuments()).toBe(1);
  });
});

describe('an event already applied', () => {
  it('when it is delivered again, then it is acknowledged and left as it is, without running its handler again', async () => {
    const p = purchase();
    const event = stripeEvent('invoice.paid', invoice(p));
    expect(await (await postEvent(app.url, event)).json()).toMatchObject({
      duplicate: false,
      outcome: 'queued',
    });
    expect(await outcomeOf(app.url, event.id)).toBe('applied');
    const callsAfterFirst = invoicePaidCalls;
    const again = await postEvent(app.url, event);
    expect(again.status).toBe(200);
    // Answered from the one insert that queues it: whether it was applied before, the queue finds out.
    expect(await again.json()).toEqual({ received: true, duplicate: false, outcome: 'queued' });
    expect(invoicePaidCalls).toBe(callsAfterFirst);
    expect(await stripeEventModel(app.deps.db).findById(event.id).lean()).toMatchObject({
      status: 'applied',
      attempts: 1,
    });
    expect(await models().Ledger.countDocuments()).toBe(1);
    expect(await app.deps.db.collection('job_due').countDocuments({ jobId: event.id })).toBe(0);
  });
});

describe('an event whose first delivery died after its marker', () => {
  it('when Stripe sends it again, then the marker left bare gets the event and it is applied', async () => {
    const p = purchase();
    const event = stripeEvent('invoice.paid', invoice(p));
    // What an older version's ingest left when storing the event itself failed: a bare marker.
    const past = new Date(app.deps.clock.now().getTime() - 5 * 60_000);
    await app.deps.db.collection('job_due').insertOne({
      _id: `stripe-events:${event.id}` as never,
      queue: 'stripe-events',
      jobId: event.id,
      nextAttemptAt: past,
      createdAt: past,
    });
    expect(await (await postEvent(app.url, event)).json()).toMatchObject({ duplicate: true });
    await settleStripeEvents(app);
    expect(await outcomeOf(app.url, event.id)).toBe('applied');
    expect(await models().Ledger.countDocuments()).toBe(1);
  });
});

describe('an event delivered again while it waits', () => {
  it('when the second delivery comes before the queue took the first, then it is answered as a duplicate and applied once', async () => {
    const p = purchase();
    const event = stripeEvent('invoice.paid', invoice(p));
    const body = serialize(event);
    const deliver = () =>
      fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers: signedHeaders(body), body });
    expect(await (await deliver()).json()).toEqual({ received: true, duplicate: false, outcome: 'queued' });
    expect(await (await deliver()).json()).toEqual({ received: true, duplicate: true, outcome: 'queued' });
    await settleStripeEvents(app);
    expect(await outcomeOf(app.url, event.id)).toBe('applied');
    expect(await models().Ledger.countDocuments()).toBe(1);
  });
});

describe('an event we gave up on', () => {
  it('when staff send it again after its last retry failed, then it is queued afresh and applied', async () => {
    const p = purchase();
    const event = stripeEvent('invoice.paid', invoice(p));
    failNextInvoice = true;
    expect((await postEvent(app.url, event)).status).toBe(200);
    // As after the last attempt: failed, and no longer due.
    await stripeEventModel(app.deps.db).updateOne({ _id: event.id }, { $set: { status: 'failed' } });
    await app.deps.db.collection('job_due').deleteMany({ jobId: event.id });
    expect(await retryStripeEvents(app)).toBe(0);
    expect(await models().Ledger.countDocuments()).toBe(0);

    const again = await postEvent(app.url, event);
    expect(await again.json()).toEqual({ received: true, duplicate: false, outcome: 'queued' });
    expect(await outcomeOf(app.url, event.id)).toBe('applied');
    expect(await models().Ledger.countDocuments()).toBe(1);
  });
});

describe('signature verification', () => {
  const body = serialize(stripeEvent('checkout.session.completed', checkoutSession(purchase())));
  const post = (payload: string, headers: Record<string, string>) =>
    fetch(`${app.url}/webhooks/stripe`, { method: 'POST', headers, body: payload });

  it('when the signature is missing, wrong, too old or over a re-serialised body, then 400 and nothing is stored', async () => {
    const cases: [string, Record<string, string>][] = [
      [body, { 'content-type': 'application/json' }],
      [body, signedHeaders(body, { secret: 'whsec_someone_else' })],
      [body, signedHeaders(body, { timestamp: Math.floor(Date.now() / 1000) - 301 })],
      [JSON.stringify(JSON.parse(body), null, 2), signedHeaders(body)],
    ];
    for (const [payload, headers] of cases) {
      const res = await post(payload, headers);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'webhook_signature_invalid',
      );
    }
    expect(await stripeEventModel(app.deps.db).countDocuments()).toBe(0);
    expect(await models().Member.countDocuments()).toBe(0);
  });

  it('when the signature is right, then the event is accepted', async () => {
    expect((await post(body, signedHeaders(body))).status).toBe(200);
  });
});
