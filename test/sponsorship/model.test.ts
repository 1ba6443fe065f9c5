import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { DEFAULT_PLANS } from '../../src/memberships/plans.js';
import { allocate, poolState, recordPoolMoney } from '../../src/sponsorship/pool.service.js';
import { poolKey, sponsorshipModels } from '../../src/sponsorship/sponsorship.model.js';
import { createTestDatabase, releaseTestDatabase, startTestApp, testConfig } from '../support/test-app.js';

// What the sponsorship records hold, as src/sponsorship/README.md lists them, and the pool's
// append-only runs under concurrent writers. The rules built on them are in pool.test.ts and
// rules.test.ts.

let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => releaseTestDatabase(db));

const at = new Date('2026-11-20T10:00:00Z');
let seq = 0;
const fresh = () => `${Date.now().toString(36)}${(++seq).toString(36)}`;

const valid = {
  fund: () => {
    const id = fresh();
    return {
      _id: `c${id}:eur#0`,
      pool: `c${id}:eur`,
      index: 0,
      entryId: `pi_${id}`,
      amount: 5000,
      sponsorEmail: 'anna@example.com',
      at,
    };
  },
  allocation: () => {
    const id = fresh();
    return { _id: `c${id}:eur#0`, pool: `c${id}:eur`, index: 0, requestId: `r${id}`, price: 5000, at };
  },
  request: () => ({
    _id: new Types.ObjectId(),
    campaignId: new Types.ObjectId(),
    email: `reader-${fresh()}@example.org`,
    reason: 'I study and cannot pay',
    country: 'UA',
    locale: 'uk',
    status: 'requested' as const,
    tokenHash: 'a'.repeat(64),
  }),
};
const models = () => {
  const { Fund, Allocation, Request } = sponsorshipModels(db);
  return { fund: Fund, allocation: Allocation, request: Request } as const;
};

describe('what a sponsorship record must hold', () => {
  const required = {
    fund: ['pool', 'index', 'entryId', 'amount', 'sponsorEmail', 'at'],
    allocation: ['pool', 'index', 'requestId', 'price', 'at'],
    request: ['campaignId', 'email', 'reason', 'country', 'locale', 'status', 'tokenHash'],
  } as const;
  const cases = Object.entries(required).flatMap(([kind, fields]) =>
    fields.map((field) => [kind as keyof typeof required, field] as const),
  );

  it.each(cases)(
    'when a sponsorship %s is saved without its %s, then it is refused and nothing is stored',
    async (kind, field) => {
      const doc: Record<string, unknown> = valid[kind]();
      delete doc[field];
      const model = models()[kind] as unknown as {
        create(doc: object): Promise<unknown>;
        findById(id: unknown): { lean(): Promise<unknown> };
      };
      await expect(model.create(doc)).rejects.toMatchObject({ name: 'ValidationError' });
      expect(await model.findById(doc._id).lean()).toBeNull();
    },
  );
});

describe('what is stored, where the README says', () => {
  it('when pool money, an allocation and a request are stored, then each collection holds exactly their fields, and a pool is named by its lower-case currency', async () => {
    const campaignId = new Types.ObjectId();
    // Stripe and the config name currencies in lower case; a pool named in another case is the same pool.
    const pool = poolKey(campaignId, 'EUR');
    expect(pool).toBe(`${campaignId}:eur`);
    await recordPoolMoney(db, pool, {
      entryId: 'pi_stored',
      amount: 5000,
      sponsorEmail: 'anna@example.com',
      at,
    });
    const state = await poolState(db, String(campaignId), 'eur', 5000);
    const requestId = new Types.ObjectId();
    expect(await allocate(db, state, String(requestId), at)).toBe(`${pool}#0`);
    const request = valid.request();
    await sponsorshipModels(db).Request.create(request);

    expect(await db.collection('sponsorship_funds').findOne({ _id: `${pool}#0` as never })).toEqual({
      _id: `${pool}#0`,
      pool,
      index: 0,
      entryId: 'pi_stored',
      amount: 5000,
      sponsorEmail: 'anna@example.com',
      at,
    });
    expect(await db.collection('sponsorship_allocations').findOne({ _id: `${pool}#0` as never })).toEqual({
      _id: `${pool}#0`,
      pool,
      index: 0,
      requestId: String(requestId),
      price: 5000,
      at,
    });
    // A request records when it was asked (staff list them oldest first), and nothing else of its own.
    expect(await db.collection('sponsorship_requests').findOne({ _id: request._id })).toEqual({
      ...request,
      createdAt: expect.any(Date),
      __v: 0,
    });
  });
});

describe('pool money under concurrent writers', () => {
  it('when ten sponsorship payments into one pool are recorded at once, then each is counted once, at its own position', async () => {
    const campaignId = String(new Types.ObjectId());
    const pool = poolKey(campaignId, 'eur');
    const payments = Array.from({ length: 10 }, (_, i) => ({
      entryId: `pi_race_${campaignId}_${i}`,
      amount: 1000 + i,
      sponsorEmail: `sponsor${i}@example.com`,
      at,
    }));
    await Promise.all(payments.map((p) => recordPoolMoney(db, pool, p)));
    await Promise.all(payments.map((p) => recordPoolMoney(db, pool, p))); // redelivered
    const state = await poolState(db, campaignId, 'eur', 5000);
    expect(state.funds.map((f) => f.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(state.funds.map((f) => f.entryId).sort()).toEqual(payments.map((p) => p.entryId).sort());
    expect(state.funded).toBe(payments.reduce((sum, p) => sum + p.amount, 0));
  });

  it('when pool money cannot be stored, then the error reaches the caller (the webhook is retried) and nothing is counted', async () => {
    const campaignId = String(new Types.ObjectId());
    await expect(
      recordPoolMoney(db, poolKey(campaignId, 'eur'), {
        entryId: `pi_broken_${campaignId}`,
        amount: 5000,
        sponsorEmail: undefined as unknown as string,
        at,
      }),
    ).rejects.toMatchObject({ name: 'ValidationError' });
    expect((await poolState(db, campaignId, 'eur', 5000)).funded).toBe(0);
  });
});

describe('an approval that stopped after taking its allocation', () => {
  it('when the request is approved again, then it gets back the allocation it holds, and the pool gives no second one', async () => {
    const campaignId = String(new Types.ObjectId());
    const pool = poolKey(campaignId, 'eur');
    await recordPoolMoney(db, pool, {
      entryId: `pi_${campaignId}`,
      amount: 20_000,
      sponsorEmail: 'a@example.com',
      at,
    });
    const [first, retried] = [String(new Types.ObjectId()), String(new Types.ObjectId())];
    expect(await allocate(db, await poolState(db, campaignId, 'eur', 5000), first, at)).toBe(`${pool}#0`);
    expect(await allocate(db, await poolState(db, campaignId, 'eur', 5000), retried, at)).toBe(`${pool}#1`);
    // The process died here; the retry reads the pool afresh, two allocations further on.
    expect(await allocate(db, await poolState(db, campaignId, 'eur', 5000), retried, at)).toBe(`${pool}#1`);
    expect((await poolState(db, campaignId, 'eur', 5000)).allocations).toBe(2);
  });

  it('when a request holds an allocation taken before attempts were noted after another request took one, then approving it again gets its own back', async () => {
    const campaignId = String(new Types.ObjectId());
    const pool = poolKey(campaignId, 'eur');
    await recordPoolMoney(db, pool, {
      entryId: `pi_${campaignId}`,
      amount: 15_000, // room for a third: the fallback is asked when a new slot is refused
      sponsorEmail: 'a@example.com',
      at,
    });
    const requestId = String(new Types.ObjectId());
    // As an earlier version stored them: the allocations alone, no `sponsor-slot:` notes; another
    // request's first, so the one found must be this request's, not any.
    for (const [index, holder] of [String(new Types.ObjectId()), requestId].entries())
      await sponsorshipModels(db).Allocation.create({
        _id: `${pool}#${index}`,
        pool,
        index,
        requestId: holder,
        price: 5000,
        at,
      });
    expect(await allocate(db, await poolState(db, campaignId, 'eur', 5000), requestId, at)).toBe(`${pool}#1`);
    expect((await poolState(db, campaignId, 'eur', 5000)).allocations).toBe(2);
  });
});

describe("the plans' one-time minimum", () => {
  it('when the newsroom raises the one-time minimum to 7.00, then a smaller sponsorship amount is refused naming 7.00', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plans-'));
    const file = path.join(dir, 'plans.json');
    const oneTime = { ...DEFAULT_PLANS.oneTime, eur: { min: 700, max: 1_000_000 } };
    writeFileSync(file, JSON.stringify({ ...DEFAULT_PLANS, oneTime }));
    // Started here, not before the file: the plans are read when the routes are built.
    const app = await startTestApp({ db, config: testConfig({ MEMBERSHIP_PLANS_FILE: file }) });
    onTestFinished(() => app.close());
    const now = app.deps.clock.now().getTime();
    const campaign = await campaignModels(db).Campaign.create({
      slug: `minimum-${fresh()}`,
      title: 'A drive',
      goal: 10,
      startsAt: new Date(now - 86_400_000),
      endsAt: new Date(now + 86_400_000),
      timeZone: 'UTC',
    });
    const res = await fetch(`${app.url}/sponsorships/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        campaign: campaign.slug,
        email: 'anna@example.com',
        currency: 'eur',
        amount: 600,
      }),
    });
    expect(res.status).toBe(422);
    expect((await res.json()).error.details).toEqual([{ path: 'amount', message: 'at least €7.00' }]);
  });
});
