import fc from 'fast-check';
import { type Connection, Types } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { giftModel } from '../../src/gifts/gift.model.js';
import { createLogger } from '../../src/infra/logger.js';
import { DomainEvents } from '../../src/shared/domain-events.js';
import { poolState, recordPoolMoney } from '../../src/sponsorship/pool.service.js';
import { type PoolAllocation, poolKey, sponsorshipModels } from '../../src/sponsorship/sponsorship.model.js';
import { decideRequest, type SponsorshipDeps } from '../../src/sponsorship/sponsorship.service.js';
import { sponsorshipDepsFrom } from '../../src/sponsorship/sponsorship-deps.js';
import { deep } from '../support/depth.js';
import { createTestDatabase, manualClock, releaseTestDatabase, testConfig } from '../support/test-app.js';

// An approval can die at any write (a crash, a lost connection) and be approved again, any number
// of times, in any order with the drive's other approvals. Whatever happened, once every request
// has been approved again: a pool with money for k memberships gave exactly min(k, requests), each
// to one request, and each of those readers has one gift. The approval is the real one
// (decideRequest, src/sponsorship/README.md "The guarantee"); only the database's writes are failed.

const PRICE = 5000;
/** Counted, and failed at `failAt`: each kind of insert and update (as test/memberships/crash-points.test.ts). */
const WRITES = ['insertOne', 'insertMany', 'updateOne', 'updateMany', 'findOneAndUpdate', 'bulkWrite'];

let db: Connection;
let deps: SponsorshipDeps;
const failure = { writes: 0, failAt: 0 };
const originals = new Map<string, unknown>();
let proto: Record<string, unknown>;

beforeAll(async () => {
  db = await createTestDatabase();
  deps = {
    ...sponsorshipDepsFrom(testConfig(), {
      db,
      clock: manualClock(),
      logger: createLogger({ level: 'silent' }),
      events: new DomainEvents(),
    }),
    prices: { eur: PRICE },
  };
  // Every model's collection shares mongoose's collection class: count (and fail) this database's writes.
  proto = Object.getPrototypeOf(sponsorshipModels(db).Allocation.collection);
  for (const name of WRITES) {
    const original = proto[name] as (...args: unknown[]) => unknown;
    originals.set(name, original);
    proto[name] = function (this: { conn: Connection }, ...args: unknown[]) {
      if (this.conn === db && ++failure.writes === failure.failAt)
        return Promise.reject(new Error(`planted failure at write ${failure.failAt}`));
      return original.apply(this, args);
    };
  }
});
// Files share a worker's mongoose (isolate: false): put its class back.
afterAll(async () => {
  for (const [name, original] of originals) proto[name] = original;
  await releaseTestDatabase(db);
});

/** One approval whose `failAt`-th write fails (none when 0): what it answered, or that it died. */
async function approveOnce(id: string, failAt: number) {
  Object.assign(failure, { writes: 0, failAt });
  try {
    return await decideRequest(deps, id, { decision: 'approve', by: 'staff:editor' });
  } catch {
    return 'died';
  } finally {
    failure.failAt = 0;
  }
}

it('when approvals die at any write and are approved again, in any order, then a pool with money for k memberships gives exactly min(k, requests), never one twice', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: PRICE - 1 }),
      fc.integer({ min: 1, max: 4 }),
      // Approvals before the final round: which request, and the write that fails (0: none).
      fc.array(fc.record({ request: fc.nat(3), failAt: fc.integer({ min: 0, max: 12 }) }), { maxLength: 8 }),
      async (k, change, n, attempts) => {
        const campaign = await campaignModels(db).Campaign.create({
          slug: `retries-${new Types.ObjectId()}`,
          title: 'A drive',
          goal: 10,
          startsAt: new Date('2026-11-01T00:00:00Z'),
          endsAt: new Date('2026-12-31T00:00:00Z'),
          timeZone: 'UTC',
        });
        const pool = poolKey(campaign._id, 'eur');
        if (k > 0 || change > 0)
          await recordPoolMoney(db, pool, {
            entryId: `pi_${pool}`,
            amount: k * PRICE + change,
            sponsorEmail: 'anna@example.com',
            at: deps.clock.now(),
          });
        const ids = (
          await sponsorshipModels(db).Request.insertMany(
            Array.from({ length: n }, (_, i) => ({
              campaignId: campaign._id,
              email: `reader${i}-${campaign._id}@example.org`,
              reason: 'I study and cannot pay',
              country: 'UA',
              locale: 'en',
              status: 'requested',
              tokenHash: 'x',
            })),
          )
        ).map((r) => String(r._id));

        for (const { request, failAt } of attempts) await approveOnce(ids[request % n]!, failAt);
        const outcomes = [];
        for (const id of ids) outcomes.push(await approveOnce(id, 0));

        const given = Math.min(k, n);
        expect(outcomes.filter((o) => o === 'granted')).toHaveLength(given);
        expect(outcomes.filter((o) => o === 'waiting_for_funds')).toHaveLength(n - given);
        const { allocations } = await poolState(db, String(campaign._id), 'eur', PRICE);
        expect(allocations).toBe(given);
        const holders = await Promise.all(
          Array.from(
            { length: allocations },
            async (_, i) =>
              (await sponsorshipModels(db).Allocation.findById(`${pool}#${i}`).lean<PoolAllocation>())!
                .requestId,
          ),
        );
        expect(new Set(holders).size).toBe(given); // no request holds two
        const gifts = await giftModel(db)
          .find({ _id: { $in: ids } })
          .lean();
        expect(gifts.map((g) => String(g._id)).sort()).toEqual([...holders].sort());
        for (const id of holders) {
          const request = await sponsorshipModels(db).Request.findById(id).lean();
          expect(request).toMatchObject({ status: 'approved', allocation: `${pool}#${holders.indexOf(id)}` });
        }
      },
    ),
    { numRuns: deep(20) },
  );
});
