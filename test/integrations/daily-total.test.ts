import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { backfillDayTallies, dayFigures } from '../../src/campaigns/day-figures.js';
import type { JobQueue } from '../../src/infra/jobs/queue.js';
import { enqueueDailyTotals } from '../../src/integrations/daily-totals.js';
import { createWebhookQueue } from '../../src/integrations/delivery.worker.js';
import { ledgerModel } from '../../src/ledger/ledger.model.js';
import { staffToken } from '../support/staff.js';
import { checkoutSession, postEvent, purchase, stripeEvent, T0 } from '../support/stripe-events.js';
import { manualClock, startTestApp, type TestApp } from '../support/test-app.js';

// The Slack preset's daily total at national scale: once a day per campaign, read from the
// campaign's maintained per-day tallies, never by grouping its contributions (on FerretDB any
// filter but `{_id}` decodes the whole collection). The filters sent are recorded through
// mongoose's debug hook; Slack's side is a local server that takes what Slack would.

const at = (iso: string) => Date.parse(iso) / 1000;
const clock = manualClock(new Date(T0 * 1000)); // 2026-11-18, 13:06 in Kyiv
let app: TestApp;
let queue: JobQueue;
let slack: { url: string; posts: string[]; close: () => Promise<unknown> };
const filters: { collection: string; method: string; filter: unknown }[] = [];
let recording = false;

async function startSlack() {
  const posts: string[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    posts.push(Buffer.concat(chunks).toString('utf8'));
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

beforeAll(async () => {
  app = await startTestApp({ deps: { clock } });
  queue = createWebhookQueue({
    db: app.deps.db,
    clock,
    logger: app.deps.logger,
    allowPrivateTargets: true,
    leaseMs: 60_000,
    timeoutMs: 2_000,
  });
  slack = await startSlack();
  app.deps.db.set('debug', (collection: string, method: string, filter: unknown) => {
    if (recording) filters.push({ collection, method, filter });
  });
});
afterAll(async () => {
  app.deps.db.set('debug', false);
  await slack?.close();
  await app?.close();
});

// Campaigns and webhook endpoints are the newsroom's own few, written by staff: not read per reader.
const STAFF_SIZED = ['campaigns', 'webhook_endpoints'];
// The supporters total's recount (src/memberships/supporters.ts) may run meanwhile: the progress read
// above starts it in the background, at most once per 15 s. It is not the daily total's.
const isSupportersRecount = (collection: string, method: string) =>
  collection === 'members' && method === 'countDocuments';
const scans = () =>
  filters.filter(
    ({ collection, method, filter }) =>
      !STAFF_SIZED.includes(collection) &&
      !isSupportersRecount(collection, method) &&
      !method.startsWith('insert') &&
      !(filter && typeof filter === 'object' && Object.keys(filter).join() === '_id'),
  );

async function pay(p: ReturnType<typeof purchase>, kind?: 'one_time') {
  const session = checkoutSession(p, kind ? { kind } : {});
  expect((await postEvent(app.url, stripeEvent('checkout.session.completed', session, p.at))).status).toBe(
    200,
  );
}

describe('the Slack daily total from per-day figures', () => {
  it('when members join on a day and more join and one is taken back after midnight, then Slack gets that day alone, and no filter scans the contributions', async () => {
    const admin = await staffToken(app.url, app.deps.db, 'admin');
    const endpoint = await fetch(`${app.url}/admin/webhooks/endpoints`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ url: slack.url, events: ['campaign.daily_total'], kind: 'slack' }),
    });
    expect(endpoint.status).toBe(201);
    await campaignModels(app.deps.db).Campaign.create({
      slug: 'autumn',
      title: 'Autumn drive',
      goal: 200,
      startingOffset: 100,
      counts: { gifts: true, oneTime: true },
      startsAt: new Date('2026-11-10T00:00:00Z'),
      endsAt: new Date('2026-11-30T00:00:00Z'),
      timeZone: 'Europe/Kyiv',
    });

    // The 18th in Kyiv: two members and a one-time supporter.
    const once = purchase({ at: at('2026-11-18T15:00:00Z') });
    await pay(purchase({ at: at('2026-11-18T11:10:00Z') }));
    await pay(purchase({ at: at('2026-11-18T21:50:00Z') })); // 23:50 in Kyiv, 21:50 UTC
    await pay(once, 'one_time');
    // The 19th in Kyiv (still the 18th in UTC): two more join, the one-time payment is refunded.
    await pay(purchase({ at: at('2026-11-18T22:10:00Z') }));
    await pay(purchase({ at: at('2026-11-18T22:20:00Z') }));
    const payment = await ledgerModel(app.deps.db).findOne({ paymentIntentId: once.paymentIntent }).lean();
    await app.deps.events.publish('ledger.recorded', {
      entryId: `refund:${payment!._id}`,
      kind: 'refund',
      amount: -once.amount,
      currency: 'eur',
      occurredAt: new Date('2026-11-18T22:30:00Z'),
      reverses: payment!._id,
      fullRefund: true,
    });
    const progress = await fetch(`${app.url}/campaigns/autumn/progress`).then((r) => r.json());
    expect(progress.count).toBe(104);

    clock.set(new Date('2026-11-18T23:30:00Z')); // 01:30 on the 19th in Kyiv
    filters.length = 0;
    recording = true;
    expect(await enqueueDailyTotals({ db: app.deps.db, clock })).toBe(1);
    recording = false;
    expect(scans()).toEqual([]);
    expect(filters.length).toBeGreaterThan(3);

    await queue.drain();
    expect(slack.posts.map((p) => JSON.parse(p))).toEqual([
      { text: '*Autumn drive*, 2026-11-18: 3 new members. The drive stands at 103 of 200 (51 %).' },
    ]);
  });

  it('when the per-day tallies are rebuilt by the migration (contributions from before they were kept), then the day reads the same', async () => {
    const drive = (await campaignModels(app.deps.db).Campaign.findOne({ slug: 'autumn' }).lean())!;
    const before = await dayFigures(app.deps.db, drive, '2026-11-18', clock.now());
    expect(before).toEqual({ joined: 3, count: 103 });
    const marks = app.deps.db.db!.collection('tally_marks');
    const removed = await marks.deleteMany({ _id: { $regex: `^campaign:${drive._id}:day:` } as never });
    expect(removed.deletedCount).toBe(6);
    expect(await dayFigures(app.deps.db, drive, '2026-11-18', clock.now())).toEqual({
      joined: 0,
      count: 104,
    });
    expect(await backfillDayTallies(app.deps.db)).toBe(6);
    expect(await dayFigures(app.deps.db, drive, '2026-11-18', clock.now())).toEqual(before);
  });
});
