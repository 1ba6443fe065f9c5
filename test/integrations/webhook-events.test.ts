import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Campaign, campaignModels } from '../../src/campaigns/campaign.model.js';
import { emailModels } from '../../src/email/email.model.js';
import type { JobQueue } from '../../src/infra/jobs/queue.js';
import { enqueueDailyTotals } from '../../src/integrations/daily-totals.js';
import { createWebhookQueue } from '../../src/integrations/delivery.worker.js';
import { webhookModels } from '../../src/integrations/webhook.model.js';
import type { WebhookEventType } from '../../src/integrations/webhook-events.js';
import { payloadSchema } from '../../src/integrations/webhooks.docs.js';
import { METADATA_APP } from '../../src/memberships/checkout.service.js';
import { findMemberByEmail } from '../../src/memberships/member-keys.js';
import { newsletterModels } from '../../src/newsletters/newsletter.model.js';
import type { DomainEventMap } from '../../src/shared/domain-events.js';
import { sponsorshipModels } from '../../src/sponsorship/sponsorship.model.js';
import { decideRequest } from '../../src/sponsorship/sponsorship.service.js';
import { sponsorshipDepsFrom } from '../../src/sponsorship/sponsorship-deps.js';
import { staffToken } from '../support/staff.js';
import {
  checkoutSession,
  invoice,
  paidGiftSession,
  postEvent,
  purchase,
  stripeEvent,
  subscription,
  T0,
} from '../support/stripe-events.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';
import { type AdminAnswer, type Receiver, startReceiver } from './support.js';

// The event types issue 32 added: each from its writer (a Stripe renewal, a newsletter click, a
// drive's milestone, a sponsorship grant) to a receiver that verifies it with the
// standardwebhooks library, with the exact body; the same fact told again is the same message.
// And the Slack preset: milestones and daily totals as Slack's `{text}` messages.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const clock = manualClock(new Date((T0 + 3600) * 1000)); // 2026-11-18, an hour after T0
let app: TestApp;
let admin: { authorization: string };
let adminSince = 0;
let receiver: Receiver;
let queue: JobQueue;
/** Every domain event of the new types the app published, to publish again. */
const told: { type: WebhookEventType; event: unknown }[] = [];

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
  admin = await staffToken(app.url, app.deps.db, 'admin');
  adminSince = clock.now().getTime();
  receiver = await startReceiver();
  queue = createWebhookQueue({
    db: app.deps.db,
    clock,
    logger: app.deps.logger,
    allowPrivateTargets: true,
    leaseMs: 60_000,
    timeoutMs: 2_000,
  });
  for (const type of [
    'member.renewed',
    'newsletter.confirmed',
    'newsletter.unsubscribed',
    'campaign.milestone',
    'sponsorship.granted',
  ] as const)
    app.deps.events.on(type, (event) => {
      told.push({ type, event });
    });
});
afterAll(async () => {
  await receiver.close();
  await app.close();
});

async function api(method: string, path: string, body?: unknown) {
  if (clock.now().getTime() - adminSince > 5 * 60_000) {
    admin = await staffToken(app.url, app.deps.db, 'admin');
    adminSince = clock.now().getTime();
  }
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { ...admin, accept: 'application/json', 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? {} : ((await res.json()) as AdminAnswer) };
}

async function addEndpoint(events: string[], url = receiver.url, kind?: 'slack') {
  const res = await api('POST', '/admin/webhooks/endpoints', { url, events, ...(kind ? { kind } : {}) });
  expect(res.status).toBe(201);
  return res.body as { endpoint: { id: string }; secret: string | null };
}
const disable = (id: string) => api('PATCH', `/admin/webhooks/endpoints/${id}`, { enabled: false });

async function deliverAll() {
  const { Delivery } = webhookModels(app.deps.db);
  for (let i = 0; i < 20; i++) {
    await queue.drain();
    if ((await Delivery.countDocuments({ status: { $in: ['pending', 'sending'] } })) === 0) return;
    clock.advance(HOUR / 4);
  }
  throw new Error('deliveries still pending');
}

/** What the receiver got since `from`: each verified with the endpoint's secret, parsed. */
function bodies(secret: string, from = 0) {
  return receiver.received.slice(from).map((r) => {
    expect(r.verifiedWith).toEqual([secret]);
    const body = JSON.parse(r.body);
    expect(payloadSchema(body.type).safeParse(body).success).toBe(true);
    return { webhookId: r.webhookId, body };
  });
}

/** Publishing each told event again makes no new delivery: the same fact is the same message. */
async function toldAgainChangesNothing(endpointId: string, type: WebhookEventType) {
  const { Delivery } = webhookModels(app.deps.db);
  const before = await Delivery.find({ endpointId }).lean();
  const events = told.filter((t) => t.type === type);
  expect(events.length).toBeGreaterThan(0);
  for (const t of events) await app.deps.events.publish(type, t.event as DomainEventMap[typeof type]);
  const after = await Delivery.find({ endpointId }).lean();
  expect(after.map((d) => d.webhookId).sort()).toEqual(before.map((d) => d.webhookId).sort());
  return after;
}

/** A Slack incoming webhook, as far as we can tell: it takes JSON and answers `ok`. */
async function startSlack() {
  const posts: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    posts.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/secretpart`,
    posts,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function campaign(fields: Partial<Campaign> & { slug: string; goal: number }): Promise<Campaign> {
  return (
    await campaignModels(app.deps.db).Campaign.create({
      title: `Drive ${fields.slug}`,
      startsAt: new Date((T0 - 3600) * 1000),
      endsAt: new Date((T0 + 3 * 86_400) * 1000),
      timeZone: 'UTC',
      ...fields,
    })
  ).toObject();
}

describe('member.renewed', () => {
  it('when a renewal invoice is paid (Stripe sends it twice), then the endpoint hears member.renewed once, verified, with ids and money and no address; the first invoice is no renewal', async () => {
    const { endpoint, secret } = await addEndpoint(['member.renewed']);
    receiver.secrets = [secret!];
    const from = receiver.received.length;
    const p = purchase();
    expect(
      (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p)))).status,
    ).toBe(200);
    const first = invoice(p, { billingReason: 'subscription_create' });
    expect((await postEvent(app.url, stripeEvent('invoice.paid', first))).status).toBe(200);
    const next = { ...p, at: T0 + 31 * 86_400 };
    const renewal = invoice(next, { billingReason: 'subscription_cycle' });
    const paid = stripeEvent('invoice.paid', renewal, next.at);
    expect((await postEvent(app.url, paid)).status).toBe(200);
    expect((await postEvent(app.url, stripeEvent('invoice.paid', renewal, next.at + 60))).status).toBe(200);
    await deliverAll();

    const member = (await findMemberByEmail(app.deps.db, p.email))!;
    const renewedAt = new Date((next.at + 5) * 1000).toISOString();
    expect(bodies(secret!, from).map((b) => b.body)).toEqual([
      {
        type: 'member.renewed',
        version: 1,
        timestamp: renewedAt,
        data: {
          memberId: String(member._id),
          invoiceId: renewal.id,
          subscriptionId: p.subscription,
          amount: 500,
          currency: 'eur',
          renewedAt,
          periodEnd: new Date(renewal.lines.data[0]!.period.end * 1000).toISOString(),
        },
      },
    ]);
    expect(
      receiver.received
        .slice(from)
        .map((r) => r.body)
        .join(),
    ).not.toContain(p.email);
    await toldAgainChangesNothing(endpoint.id, 'member.renewed');
    await disable(endpoint.id);
  });
});

describe('newsletters', () => {
  const form = (path: string, fields: Record<string, string>) =>
    fetch(`${app.url}${path}`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });

  it('when a reader confirms two lists (clicking twice) and later unsubscribes from all, then the endpoint hears one newsletter.confirmed and one newsletter.unsubscribed per list, with consent ids and no address', async () => {
    const { endpoint, secret } = await addEndpoint(['newsletter.confirmed', 'newsletter.unsubscribed']);
    receiver.secrets = [secret!];
    const from = receiver.received.length;
    const email = 'hooked-reader@example.org';
    const lists = ['editors-picks', 'explaining-ukraine'];
    const signUp = await fetch(`${app.url}/newsletters/subscriptions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.9.0.1' },
      body: JSON.stringify({ email, lists, consentTextVersion: '2026-11' }),
    });
    expect(signUp.status).toBe(202);
    const { EmailJob } = emailModels(app.deps.db);
    const confirmation = (await EmailJob.findOne({
      'to.email': email,
      template: 'newsletter-confirmation',
    }).lean())!;
    const token = new URL(String(confirmation.data.confirmUrl)).searchParams.get('token')!;
    clock.advance(60_000);
    const confirmedAt = clock.now().toISOString();
    expect((await form('/newsletters/confirm', { token })).status).toBe(200);
    clock.advance(60_000);
    expect((await form('/newsletters/confirm', { token })).status).toBe(200); // "already confirmed"

    const welcome = (await EmailJob.findOne({ 'to.email': email, template: 'newsletter-welcome' }).lean())!;
    const unsubscribeUrl = new URL(welcome.listUnsubscribeUrl!);
    clock.advance(60_000);
    const unsubscribedAt = clock.now().toISOString();
    const oneClick = () =>
      fetch(`${app.url}${unsubscribeUrl.pathname}${unsubscribeUrl.search}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
    expect((await oneClick()).status).toBe(200);
    expect((await oneClick()).status).toBe(200); // a mail client that posts twice
    await deliverAll();

    const { Consent } = newsletterModels(app.deps.db);
    const consentOf = async (list: string, action: 'confirmed' | 'unsubscribed') =>
      String((await Consent.findOne({ email, list, action }).lean<{ _id: unknown }>())!._id);
    const got = bodies(secret!, from)
      .map((b) => b.body)
      .sort((a, b) => a.type.localeCompare(b.type) || a.data.list.localeCompare(b.data.list));
    expect(got).toEqual([
      ...(await Promise.all(
        lists.map(async (list) => ({
          type: 'newsletter.confirmed',
          version: 1,
          timestamp: confirmedAt,
          data: { consentId: await consentOf(list, 'confirmed'), list, confirmedAt },
        })),
      )),
      ...(await Promise.all(
        lists.map(async (list) => ({
          type: 'newsletter.unsubscribed',
          version: 1,
          timestamp: unsubscribedAt,
          data: { consentId: await consentOf(list, 'unsubscribed'), list, unsubscribedAt },
        })),
      )),
    ]);
    expect(
      receiver.received
        .slice(from)
        .map((r) => r.body)
        .join(),
    ).not.toContain('hooked-reader');
    await toldAgainChangesNothing(endpoint.id, 'newsletter.confirmed');
    await toldAgainChangesNothing(endpoint.id, 'newsletter.unsubscribed');
    await disable(endpoint.id);
  });
});

describe('campaign.milestone and the Slack preset', () => {
  it('when a drive reaches half its goal, then a standard endpoint hears campaign.milestone once and a Slack endpoint gets the {text} message; the next day Slack gets one daily total', async () => {
    const drive = await campaign({
      slug: 'spring',
      title: 'Spring <drive> & more',
      goal: 4,
      milestones: [50, 100],
    });
    const { endpoint, secret } = await addEndpoint(['campaign.milestone']);
    const slack = await startSlack();
    try {
      const preset = await addEndpoint(['campaign.milestone', 'campaign.daily_total'], slack.url, 'slack');
      expect(preset.secret).toBeNull();
      receiver.secrets = [secret!];
      const from = receiver.received.length;
      for (const p of [purchase(), purchase()]) {
        const paid = stripeEvent('checkout.session.completed', checkoutSession(p));
        expect((await postEvent(app.url, paid)).status).toBe(200);
        expect((await postEvent(app.url, paid)).status).toBe(200);
      }
      await deliverAll();
      const [milestone] = told.filter((t) => t.type === 'campaign.milestone');
      const reachedAt = (milestone!.event as { reachedAt: Date }).reachedAt.toISOString();
      expect(bodies(secret!, from).map((b) => b.body)).toEqual([
        {
          type: 'campaign.milestone',
          version: 1,
          timestamp: reachedAt,
          data: {
            campaignId: String(drive._id),
            campaign: 'spring',
            title: 'Spring <drive> & more',
            percent: 50,
            count: 2,
            goal: 4,
            reachedAt,
          },
        },
      ]);
      await toldAgainChangesNothing(endpoint.id, 'campaign.milestone');

      // Slack's format: a JSON object with `text`, mrkdwn's three characters escaped, no signature.
      expect(slack.posts.map((p) => JSON.parse(p.body))).toEqual([
        { text: ':tada: *Spring &lt;drive&gt; &amp; more* reached 50 % of its goal: 2 of 4 members.' },
      ]);
      expect(slack.posts[0]!.headers['content-type']).toBe('application/json');
      expect(slack.posts[0]!.headers['webhook-signature']).toBeUndefined();

      // The day after: the hourly task posts the day's total once, however often it runs.
      const day = clock.now().toISOString().slice(0, 10);
      clock.set(new Date(`${day}T00:00:00Z`));
      clock.advance(DAY + 5 * 60_000);
      await enqueueDailyTotals({ db: app.deps.db, clock });
      clock.advance(HOUR);
      await enqueueDailyTotals({ db: app.deps.db, clock });
      await deliverAll();
      expect(slack.posts.slice(1).map((p) => JSON.parse(p.body))).toEqual([
        {
          text: `*Spring &lt;drive&gt; &amp; more*, ${day}: 2 new members. The drive stands at 2 of 4 (50 %).`,
        },
      ]);
      await disable(preset.endpoint.id);
    } finally {
      await slack.close();
    }
    await disable(endpoint.id);
    await campaignModels(app.deps.db).Campaign.updateOne(
      { _id: drive._id },
      { $set: { endsAt: clock.now() } },
    );
  });

  it('when a Slack endpoint is asked for an event Slack does not get, or to rotate a secret, then it is refused', async () => {
    const wrong = await api('POST', '/admin/webhooks/endpoints', {
      url: 'http://127.0.0.1:9/services/x',
      events: ['member.joined'],
      kind: 'slack',
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error?.code).toBe('validation_failed');
    const preset = await addEndpoint(['campaign.milestone'], 'http://127.0.0.1:9/services/x', 'slack');
    const rotate = await api('POST', `/admin/webhooks/endpoints/${preset.endpoint.id}/rotate-secret`, {});
    expect(rotate.status).toBe(409);
    await api('DELETE', `/admin/webhooks/endpoints/${preset.endpoint.id}`);
  });
});

describe('sponsorship.granted', () => {
  it('when staff approve a sponsorship request the pool can pay for (approving twice), then the endpoint hears sponsorship.granted once, with the money and no address', async () => {
    const drive = await campaign({
      slug: 'sponsored',
      goal: 1000,
      endsAt: new Date(clock.now().getTime() + DAY),
    });
    const { endpoint, secret } = await addEndpoint(['sponsorship.granted']);
    receiver.secrets = [secret!];
    const from = receiver.received.length;
    const p = purchase({ email: 'sponsor@example.com', amount: 5000, currency: 'eur' });
    const session = {
      ...checkoutSession(p, { kind: 'one_time' }),
      metadata: { app: METADATA_APP, kind: 'sponsorship', campaignId: String(drive._id), locale: 'en' },
    };
    expect((await postEvent(app.url, stripeEvent('checkout.session.completed', session))).status).toBe(200);
    const [request] = await sponsorshipModels(app.deps.db).Request.insertMany([
      {
        campaignId: drive._id,
        email: 'student@example.org',
        reason: 'I am a student',
        country: 'UA',
        locale: 'en',
        status: 'requested',
        tokenHash: 'x',
      },
    ]);
    const deps = sponsorshipDepsFrom(app.deps.config, app.deps);
    const grantedAt = clock.now().toISOString();
    const approve = () =>
      decideRequest(deps, String(request!._id), { decision: 'approve', by: 'staff:editor' });
    expect(await approve()).toBe('granted');
    // The same decision again (a double click, a retry): it grants again, and tells it again.
    expect(await approve()).toBe('granted');
    await deliverAll();

    expect(bodies(secret!, from).map((b) => b.body)).toEqual([
      {
        type: 'sponsorship.granted',
        version: 1,
        timestamp: grantedAt,
        data: {
          requestId: String(request!._id),
          campaign: 'sponsored',
          durationMonths: 12,
          amount: 5000,
          currency: 'eur',
          grantedAt,
        },
      },
    ]);
    expect(
      receiver.received
        .slice(from)
        .map((r) => r.body)
        .join(),
    ).not.toContain('@example');
    await toldAgainChangesNothing(endpoint.id, 'sponsorship.granted');
    await disable(endpoint.id);
  });
});

describe('gift.purchased, gift.redeemed and member.canceled from their real paths', () => {
  it('when a gift is bought and paid through Stripe, redeemed on its page, and a subscription ends at Stripe, then the endpoint hears each once, verified, with the documented body and no address', async () => {
    await campaign({ slug: 'gifting', goal: 100, endsAt: new Date(clock.now().getTime() + 30 * DAY) });
    const { endpoint, secret } = await addEndpoint(['gift.purchased', 'gift.redeemed', 'member.canceled']);
    receiver.secrets = [secret!];
    const from = receiver.received.length;
    const unix = () => Math.floor(clock.now().getTime() / 1000);

    // A gift for today, bought on our pages and paid at Stripe (checkout.session.completed, twice).
    const bought = await fetch(`${app.url}/gifts/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        purchaserName: 'Olena',
        purchaserEmail: 'gift-giver@example.org',
        recipientName: 'Taras',
        recipientEmail: 'gift-taker@example.org',
        message: 'For you',
        durationMonths: 12,
        currency: 'eur',
        deliverOn: clock.now().toISOString().slice(0, 10),
        campaign: 'gifting',
      }),
    });
    expect(bought.status).toBe(201);
    const { giftId } = (await bought.json()) as { giftId: string };
    const paidAt = unix();
    const paid = stripeEvent('checkout.session.completed', paidGiftSession(giftId), paidAt);
    expect((await postEvent(app.url, paid)).status).toBe(200);
    expect((await postEvent(app.url, paid)).status).toBe(200);

    // Delivered at once (it is for today): the recipient redeems the code from their email.
    const { EmailJob } = emailModels(app.deps.db);
    const delivery = (await EmailJob.findOne({
      'to.email': 'gift-taker@example.org',
      template: 'gift-delivery',
    }).lean())!;
    const code = new URL(String(delivery.data.redeemUrl)).searchParams.get('code')!;
    clock.advance(60_000);
    const redeemedAt = clock.now().toISOString();
    const redeemed = await fetch(`${app.url}/gifts/redeem`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '10.9.3.1' },
      body: new URLSearchParams({ code, email: 'gift-taker@example.org' }),
    });
    expect(redeemed.status).toBe(200);
    const giftMember = (await findMemberByEmail(app.deps.db, 'gift-taker@example.org'))!;

    // A paying member's subscription ends at Stripe (customer.subscription.deleted, twice).
    clock.advance(60_000);
    const p = purchase({ email: 'leaving-member@example.org', at: unix() });
    expect(
      (await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p), p.at))).status,
    ).toBe(200);
    const ended = stripeEvent('customer.subscription.deleted', subscription(p, 'canceled'), p.at + 100);
    expect((await postEvent(app.url, ended)).status).toBe(200);
    expect((await postEvent(app.url, ended)).status).toBe(200);
    const leaver = (await findMemberByEmail(app.deps.db, p.email))!;
    expect(leaver.status).toBe('canceled');
    await deliverAll();

    const paidAtIso = new Date(paidAt * 1000).toISOString();
    const endedAt = new Date((p.at + 100) * 1000).toISOString();
    // The queue sends in no set order: in the order they happened.
    const got = bodies(secret!, from)
      .map((b) => b.body)
      .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    expect(got).toEqual([
      {
        type: 'gift.purchased',
        version: 1,
        timestamp: paidAtIso,
        data: { giftId, durationMonths: 12, amount: 5000, currency: 'eur', campaign: 'gifting' },
      },
      {
        type: 'gift.redeemed',
        version: 1,
        timestamp: redeemedAt,
        data: { giftId, memberId: String(giftMember._id), redeemedAt },
      },
      {
        type: 'member.canceled',
        version: 1,
        timestamp: endedAt,
        data: { memberId: String(leaver._id), endedAt },
      },
    ]);
    const sent = receiver.received
      .slice(from)
      .map((r) => r.body)
      .join();
    for (const personal of ['@', 'Olena', 'Taras', 'For you']) expect(sent).not.toContain(personal);
    await disable(endpoint.id);
  });
});
