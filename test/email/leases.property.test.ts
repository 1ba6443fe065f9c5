import fc from 'fast-check';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { acquireLease, insertLease, leaseKey, leaseModel } from '../../src/infra/leases.js';
import { createTestDatabase } from '../support/test-app.js';

// The job runner's guarantee, for any interleaving of three workers taking a job, crashing
// (forgetting it, their lease left behind), storing an outcome, and time passing:
// - two workers never hold one job inside the same lease time;
// - an outcome is stored only by the worker that took the job last (a late, dead worker's
//   outcome is dropped), so each attempt has at most one outcome;
// - whatever happened, once leases run out a new worker can take the job (never stranded).
// The model below uses the runner's steps (src/infra/jobs/lease.ts: claim, settle) on the real database.

const LEASE_MS = 1_000;
let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.dropDatabase();
  await db.close();
});

type Step = { op: 'take' | 'settle' | 'crash'; worker: number } | { op: 'wait'; ms: number };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constantFrom('take' as const, 'settle' as const, 'crash' as const), worker: fc.nat(2) }),
  fc.record({ op: fc.constant('wait' as const), ms: fc.constantFrom(100, 600, 1_100) }),
);

let run = 0;
it('when workers take, crash, settle and wait in any order, then a job has one holder at a time, only the latest taker stores an outcome, and it is never stranded', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), async (steps) => {
      const job = `job${++run}`;
      let now = 0;
      let claimSeq = 0; // what the job document says (written by lease holders only)
      const holding = new Map<number, { seq: number; until: number }>();
      let lastTaker: number | undefined;
      const outcomes: { worker: number; seq: number }[] = [];
      for (const s of steps) {
        if (s.op === 'wait') {
          now += s.ms;
          continue;
        }
        const w = s.worker;
        if (s.op === 'crash') holding.delete(w);
        if (s.op === 'take' && !holding.has(w)) {
          const seq = await acquireLease(db, 'p', job, claimSeq, `w${w}`, new Date(now), LEASE_MS);
          if (seq !== null) {
            for (const [other, h] of holding)
              if (other !== w) expect({ overlapping: h.until > now }).toEqual({ overlapping: false });
            holding.set(w, { seq, until: now + LEASE_MS });
            claimSeq = seq;
            lastTaker = w;
          }
        }
        if (s.op === 'settle' && holding.has(w)) {
          const { seq } = holding.get(w)!;
          holding.delete(w);
          const fence = leaseKey('p', job, seq + 1);
          if (await insertLease(db, fence, `w${w}`, new Date(now + LEASE_MS))) {
            expect(lastTaker).toBe(w);
            outcomes.push({ worker: w, seq });
            claimSeq = seq + 2;
          }
        }
      }
      expect(new Set(outcomes.map((o) => o.seq)).size).toBe(outcomes.length);
      // Never stranded: after every lease has run out, a fresh worker takes it.
      const later = new Date(now + 2 * LEASE_MS + 1);
      expect(await acquireLease(db, 'p', job, claimSeq, 'fresh', later, LEASE_MS)).not.toBeNull();
    }),
    { numRuns: 60 },
  );
  expect(await leaseModel(db).countDocuments()).toBeGreaterThan(0);
}, 120_000);
