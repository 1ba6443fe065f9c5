import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type ImportOptions, importMembersFile } from '../../src/imports/import.service.js';
import { adoptStripeAccount } from '../../src/imports/stripe-adopt.js';
import { importSubscribersFile } from '../../src/imports/subscribers.import.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { talliedSupporters } from '../../src/memberships/supporter-marks.js';
import { deep } from '../support/depth.js';
import { type FakeStripe, startFakeStripe } from '../support/fake-stripe.js';
import { createTestDatabase, manualClock, releaseTestDatabase } from '../support/test-app.js';
import { fixture, IMPORTED_COLLECTIONS, importDeps, snapshot } from './import-support.js';
import { plantAccount, SINCE } from './stripe-account.js';

// Whatever row an import is stopped at (a crash, Ctrl-C, a lost connection), running it again
// ends in exactly the state one uninterrupted run leaves.

let db: Connection;
let fake: FakeStripe;
let stripe: Stripe;
const dir = os.tmpdir();
const membersFile = path.join(dir, `members-${process.pid}.csv`);
const unsubscribedFile = path.join(dir, `unsubscribed-${process.pid}.csv`);

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeStripe();
  stripe = createStripeClient('sk_test_interrupted', fake.connection)!;
  plantAccount(fake);
  const plans = ['supporter', 'patron', 'custom', ''];
  writeFileSync(
    membersFile,
    [
      'email,name,plan,amount,currency,interval,joined_at,stripe_customer_id,status,labels',
      ...Array.from(
        { length: 10 },
        (_, i) =>
          `reader${i}@example.com,Reader ${i},${plans[i % 4]},${i % 4 === 2 ? '9.99' : ''},${plans[i % 4] ? 'eur' : ''},month,2020-0${(i % 9) + 1}-15,${i % 2 ? `cus_R${i}` : ''},${i === 7 ? 'canceled' : 'active'},`,
      ),
    ].join('\n'),
  );
  writeFileSync(
    unsubscribedFile,
    [
      '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,UNSUB_TIME,UNSUB_REASON,LEID,EUID',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `gone${i}@example.net,Gone,${i},2,"2019-0${i + 1}-01 07:00:00",192.0.2.${i},"2019-0${i + 1}-01 07:03:10",192.0.2.${i},"2024-0${i + 1}-02 08:00:00",,${i},e${i}`,
      ),
    ].join('\r\n'),
  );
});
afterAll(async () => {
  await releaseTestDatabase(db);
  await fake.close();
});

type Run = (options: ImportOptions) => Promise<unknown>;
const deps = () => importDeps(db, manualClock());
const IMPORTS: Record<string, Run> = {
  members: (options) => importMembersFile(deps(), membersFile, { ...options, batchSize: 3 }),
  subscribers: (options) =>
    importSubscribersFile(deps(), unsubscribedFile, 'daily', { ...options, batchSize: 3 }),
  'synced subscribers': (options) =>
    importSubscribersFile(deps(), fixture('mailchimp-subscribed.csv'), 'synced', {
      ...options,
      batchSize: 1,
    }),
  stripe: (options) =>
    adoptStripeAccount(
      { ...deps(), stripe, timeZone: 'UTC' },
      { ...options, since: SINCE, pageSize: 5, batchSize: 4 },
    ),
};

// The database is emptied between runs, the finished-batch marks (claims) with it.
const clear = () =>
  Promise.all(
    [...IMPORTED_COLLECTIONS, 'claims', ...SUPPORTER_COLLECTIONS].map((c) => db.collection(c).deleteMany({})),
  );
// Not compared (their `at` and batch ids differ by run), but the total they keep must be right.
const SUPPORTER_COLLECTIONS = ['supporter_transitions', 'supporter_batches', 'tally_marks'];
const activeMembers = () => db.collection('members').countDocuments({ status: 'active' });

for (const [name, run] of Object.entries(IMPORTS)) {
  it(`when the ${name} import is stopped at any point and run again, then it ends identical to one uninterrupted run`, async () => {
    await clear();
    let checkpoints = 0;
    await run({ checkpoint: () => void checkpoints++ });
    const reference = await snapshot(db);
    expect(Object.values(reference).flat().length).toBeGreaterThan(0);

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: checkpoints - 1 }), async (stopAt) => {
        await clear();
        let seen = 0;
        await expect(
          run({
            checkpoint: () => {
              if (seen++ === stopAt) throw new Error('stopped');
            },
          }),
        ).rejects.toThrow('stopped');
        await run({});
        expect(await snapshot(db)).toEqual(reference);
        expect(await talliedSupporters(db)).toBe(await activeMembers());
      }),
      // Small imports have few stopping points: every one of them is tried, then generated ones.
      {
        numRuns: deep(6),
        examples: checkpoints <= 16 ? Array.from({ length: checkpoints }, (_, k) => [k] as [number]) : [],
      },
    );
  });
}

for (const [name, run] of Object.entries(IMPORTS)) {
  it(`when the ${name} import runs again over its own work, its batch marks kept or gone, then every collection it writes is exactly as after the first run`, async () => {
    await clear();
    await run({});
    const reference = await snapshot(db);
    expect(Object.values(reference).flat().length).toBeGreaterThan(0);
    // With the marks, finished batches are skipped: nothing may change.
    await run({});
    expect(await snapshot(db)).toEqual(reference);
    // Without them (another process, a restored backup), every row is written again: every
    // write must find its document already there, not add a second consent, ledger entry or member.
    await db.collection('claims').deleteMany({ _id: { $regex: '^import:' } as never });
    await run({});
    expect(await snapshot(db)).toEqual(reference);
  });
}
