import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { spawnScript } from '../support/server-process.js';
import { staffToken } from '../support/staff.js';
import { checkoutSession, postEvent, purchase, stripeEvent, subscription } from '../support/stripe-events.js';
import { databaseUri, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ TIME_ZONE: 'UTC' }) });
});
afterAll(() => app.close());

it('when the summary is pulled, then active members by plan, MRR with yearly plans as twelfths, new, churned and churn rate add up', async () => {
  const nov = Date.parse('2026-11-10T00:00:00Z') / 1000;
  const oct = Date.parse('2026-10-10T00:00:00Z') / 1000;
  // Two monthly EUR 5.00 (one joined in October), one yearly EUR 150.00, one yearly GBP 120.00 that is canceled in November.
  const monthlyA = purchase({ amount: 500, currency: 'eur' });
  const monthlyB = purchase({ amount: 500, currency: 'eur' });
  const yearly = purchase({ plan: 'patron', interval: 'year', amount: 15000, currency: 'eur' });
  const leaving = purchase({ plan: 'patron', interval: 'year', amount: 12000, currency: 'gbp' });
  for (const [p, at] of [
    [monthlyA, oct],
    [monthlyB, nov],
    [yearly, nov],
    [leaving, oct],
  ] as const) {
    await postEvent(app.url, stripeEvent('checkout.session.completed', checkoutSession(p), at));
    await postEvent(app.url, stripeEvent('customer.subscription.updated', subscription(p, 'active'), at + 1));
  }
  await postEvent(
    app.url,
    stripeEvent('customer.subscription.deleted', subscription(leaving, 'canceled'), nov + 86_400),
  );
  await membershipModels(app.deps.db).Member.create({
    email: 'gifted@example.com',
    status: 'active',
    source: 'gift',
    joinedAt: new Date('2026-11-20T00:00:00Z'),
    joinedVia: 'gift:1',
  });

  const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
  const res = await fetch(`${app.url}/reports/summary?from=2026-11-01&to=2026-11-30`, {
    headers: { authorization },
  });
  expect(res.status).toBe(200);
  const summary = (await res.json()) as Record<string, unknown>;
  expect(summary).toMatchObject({
    activeByPlan: [
      { plan: 'supporter', interval: 'month', currency: 'eur', members: 2 },
      expect.objectContaining({ members: 1 }),
      expect.objectContaining({ members: 1 }),
    ],
    mrr: { eur: 500 + 500 + 1250 },
    new: 3, // monthlyB, yearly, the gift member
    churned: 1,
    netGrowth: 2,
    churnRate: 0.5, // 1 of the 2 active on 1 November
  });
  expect(summary.activeByPlan).toContainEqual({ plan: 'gift', interval: '', currency: '', members: 1 });
  expect(summary.activeByPlan).toContainEqual({
    plan: 'patron',
    interval: 'year',
    currency: 'eur',
    members: 1,
  });
});

it('when growth is pulled for a few days, then each day shows who joined and left and the members and MRR at its end', async () => {
  // Same members as above: at 2026-11-09 two active (monthlyA, leaving); 11-10 +2; 11-11 leaving ends; 11-20 the gift member.
  const { authorization } = await staffToken(app.url, app.deps.db, 'finance');
  const res = await fetch(`${app.url}/reports/growth?from=2026-11-09&to=2026-11-11`, {
    headers: { authorization },
  });
  expect(res.status).toBe(200);
  expect((await res.json()).days).toEqual([
    { day: '2026-11-09', joined: 0, ended: 0, active: 2, mrr: { eur: 500, gbp: 1000 } },
    { day: '2026-11-10', joined: 2, ended: 0, active: 4, mrr: { eur: 2250, gbp: 1000 } },
    { day: '2026-11-11', joined: 0, ended: 1, active: 3, mrr: { eur: 2250, gbp: 0 } },
  ]);

  const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'growth-')), 'growth.csv');
  const uri = databaseUri(app.deps.db.name);
  const cli = spawnScript('src/cli/report.ts', { MONGODB_URI: uri, TIME_ZONE: 'UTC' }, [
    'growth',
    '--out',
    out,
    '--from',
    '2026-11-09',
    '--to',
    '2026-11-11',
  ]);
  expect(await cli.exited).toBe(0);
  expect(readFileSync(out, 'utf8').trim().split('\n')).toEqual([
    'day,joined,ended,active,mrr_eur,mrr_gbp',
    '2026-11-09,0,0,2,500,1000',
    '2026-11-10,2,0,4,2250,1000',
    '2026-11-11,0,1,3,2250,0',
  ]);

  const reversed = await fetch(`${app.url}/reports/growth?from=2026-11-11&to=2026-11-09`, {
    headers: { authorization },
  });
  expect(reversed.status).toBe(422);
  const tooLong = await fetch(`${app.url}/reports/growth?from=2020-01-01&to=2026-11-09`, {
    headers: { authorization },
  });
  expect((await tooLong.json()).error.details).toEqual([
    { path: 'to', message: 'the range may be at most 731 days' },
  ]);
  expect((await reversed.json()).error.details).toEqual([
    { path: 'to', message: 'from must not be after to' },
  ]);
});
