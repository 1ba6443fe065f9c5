import type { Connection, Model } from 'mongoose';
import { decideOnce, decisionOf } from '../infra/claims.js';
import { isDuplicateKey } from '../infra/db.js';
import { type PoolAllocation, type PoolFund, poolKey, sponsorshipModels } from './sponsorship.model.js';

// A sponsorship pool's money and what it paid for. Both are append-only runs of unique `_id`s
// (`<pool>#0`, `<pool>#1`, …, see sponsorship.model.ts); nothing here is ever updated, $inc'ed or
// decided by a conditional update, so the rules hold on FerretDB as on MongoDB.

const at = (pool: string, n: number) => `${pool}#${n}`;

/** How many positions the run holds: the end of the dense run, by primary-key probes. */
async function runLength(model: Model<never>, pool: string): Promise<number> {
  const filled = async (n: number) => n === 0 || (await model.exists({ _id: at(pool, n - 1) })) !== null;
  let low = 0;
  let high = 1;
  while (await filled(high)) {
    low = high;
    high *= 2;
  }
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (await filled(middle)) low = middle;
    else high = middle;
  }
  return low;
}

async function readRun<T>(model: Model<T>, pool: string): Promise<T[]> {
  const items: T[] = [];
  for (;;) {
    const item = await model.findById(at(pool, items.length)).lean<T>();
    if (!item) return items;
    items.push(item);
  }
}

/** Money into (or, for a refund, out of) a pool, once per ledger entry. */
export async function recordPoolMoney(
  db: Connection,
  pool: string,
  money: Omit<PoolFund, '_id' | 'pool' | 'index'>,
): Promise<void> {
  const { Fund } = sponsorshipModels(db);
  for (let n = await runLength(Fund as unknown as Model<never>, pool); ; n++) {
    try {
      await Fund.create({ ...money, _id: at(pool, n), pool, index: n });
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const taken = await Fund.findById(at(pool, n)).lean<PoolFund>();
      if (!taken || taken.entryId === money.entryId) return; // this entry is in the pool already
    }
  }
}

export interface PoolState {
  pool: string;
  currency: string;
  price: number;
  funds: PoolFund[];
  /** Money in, net of refunds. */
  funded: number;
  allocations: number;
}

export async function poolState(
  db: Connection,
  campaignId: string,
  currency: string,
  price: number,
): Promise<PoolState> {
  const pool = poolKey(campaignId, currency);
  const { Fund, Allocation } = sponsorshipModels(db);
  const [funds, allocations] = await Promise.all([
    readRun(Fund, pool),
    runLength(Allocation as unknown as Model<never>, pool),
  ]);
  return {
    pool,
    currency,
    price,
    funds,
    funded: funds.reduce((sum, f) => sum + f.amount, 0),
    allocations,
  };
}

/**
 * One membership's worth of the pool for `requestId`: allocation n is taken only while
 * (n + 1) · price ≤ the money that came in, by inserting its unique `_id`, so of any number of
 * racing approvals exactly as many win as the money pays for. Answers the allocation's `_id`, or
 * null when the pool cannot pay for another. A request allocated before gets its allocation back,
 * found by `_id` before the money is counted: it may have taken the last one (README, "The guarantee").
 */
export async function allocate(
  db: Connection,
  state: PoolState,
  requestId: string,
  now: Date,
): Promise<string | null> {
  const { Allocation } = sponsorshipModels(db);
  const before = await heldAllocation(db, requestId);
  if (before.allocation) return before.allocation;
  for (let n = state.allocations, noted = before.noted; ; n++) {
    if ((n + 1) * state.price > state.funded) return null;
    noted = await noteAttempt(db, requestId, noted, at(state.pool, n), now);
    try {
      await Allocation.create({
        _id: at(state.pool, n),
        pool: state.pool,
        index: n,
        requestId,
        price: state.price,
        at: now,
      });
      return at(state.pool, n);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const taken = await Allocation.findById(at(state.pool, n)).lean<PoolAllocation>();
      if (taken?.requestId === requestId) return taken._id;
      if (!taken) {
        // The unique request refused it: this request holds another allocation (a double click).
        const held = (await heldAllocation(db, requestId)).allocation ?? (await takenBefore(db, requestId));
        if (held) return held;
      }
    }
  }
}

/** Each sponsor's money net of its refunds, in the order it came in (oldest is spent first). */
export function moneyStream(funds: PoolFund[]): { entryId: string; sponsorEmail: string; amount: number }[] {
  const refunded = new Map<string, number>();
  for (const f of funds) if (f.reverses) refunded.set(f.reverses, (refunded.get(f.reverses) ?? 0) - f.amount);
  return funds
    .filter((f) => !f.reverses)
    .map((f) => ({
      entryId: f.entryId,
      sponsorEmail: f.sponsorEmail,
      amount: Math.max(0, f.amount - (refunded.get(f.entryId) ?? 0)),
    }));
}

/**
 * What a sponsor's money paid for: allocation n spends [n·price, (n+1)·price) of the stream, so a
 * sponsor helped every allocation whose range overlaps their money, and gave `share` memberships.
 */
export function sponsorShare(state: PoolState, sponsorEmail: string): { readers: number; share: number } {
  let start = 0;
  const readers = new Set<number>();
  let money = 0;
  const spent = state.allocations * state.price;
  for (const item of moneyStream(state.funds)) {
    const end = start + item.amount;
    if (item.sponsorEmail === sponsorEmail && item.amount > 0) {
      const overlap = Math.max(0, Math.min(end, spent) - start);
      money += overlap;
      if (overlap > 0) {
        const first = Math.floor(start / state.price);
        const last = Math.ceil(Math.min(end, spent) / state.price) - 1;
        for (let n = first; n <= last; n++) readers.add(n);
      }
    }
    start = end;
  }
  return { readers: readers.size, share: money / state.price };
}

// A request's attempts at the pools: before inserting allocation n it notes `<pool>#n` in a claim
// `sponsor-slot:<request>#<k>` (k = 0, 1, …). A request can hold only an allocation it noted, so a
// retry finds it by `_id` alone, whatever the money says now. A crash between the note and the
// insert leaves a note of a position the request does not hold, never an allocation without one.

const noteKey = (requestId: string, k: number) => `sponsor-slot:${requestId}#${k}`;

/** The allocation `requestId` holds, if it noted it, and how many attempts it noted. */
async function heldAllocation(db: Connection, requestId: string) {
  const tried: string[] = [];
  for (;;) {
    const note = await decisionOf<string>(db, noteKey(requestId, tried.length));
    if (!note) break;
    tried.push(note.decision);
  }
  const { Allocation } = sponsorshipModels(db);
  // Newest first: an approval stops at the allocation it wins, so that is its last note.
  for (const allocation of [...tried].reverse())
    if ((await Allocation.findById(allocation).lean<PoolAllocation>())?.requestId === requestId)
      return { allocation, noted: tried.length };
  return { allocation: undefined, noted: tried.length };
}

/** Notes an attempt at the first free k from `k` (a double click notes too); answers the k after it. */
async function noteAttempt(db: Connection, requestId: string, k: number, allocation: string, now: Date) {
  while (!(await decideOnce(db, noteKey(requestId, k), now, allocation)).won) k++;
  return k + 1;
}

/** An allocation taken before attempts were noted, by its unique `requestId` (a scan on FerretDB). */
async function takenBefore(db: Connection, requestId: string): Promise<string | undefined> {
  return (await sponsorshipModels(db).Allocation.findOne({ requestId }).lean<PoolAllocation>())?._id;
}
