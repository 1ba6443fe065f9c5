import type { Connection } from 'mongoose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/infra/clock.js';
import { markDue } from '../../src/infra/due.js';
import type { JobQueue } from '../../src/infra/jobs/queue.js';
import { createJobRunner } from '../../src/infra/jobs/runner.js';
import { createLogger } from '../../src/infra/logger.js';
import { createTestDatabase, releaseTestDatabase } from '../support/test-app.js';

// Work queued in a process starts there at once, not at the runner's next poll; and a runner
// backing off after database errors looks again as soon as this process manages to queue work.

let db: Connection;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await releaseTestDatabase(db);
});

/** A queue that records when it was drained and fails its first `failures` rounds, as when the database is away. */
function fakeQueue(name: string, failures = 0) {
  const drains: number[] = [];
  const queue: JobQueue = {
    name,
    runOnce: async () => false,
    async drain() {
      drains.push(Date.now());
      if (drains.length <= failures) throw new Error('database unreachable');
      return 0;
    },
    pausedUntil: async () => null,
    backlog: async () => ({ due: 0 }),
  };
  return { queue, drains };
}

const logger = createLogger({ level: 'silent' });
const settle = () => new Promise((r) => setTimeout(r, 300));

it('when a job is marked due in this process, then its queue is drained at once, and another queue is not', async () => {
  const mail = fakeQueue('wake-mail');
  const other = fakeQueue('wake-other');
  const runner = createJobRunner({
    db,
    clock: systemClock,
    logger,
    queues: [mail.queue, other.queue],
    pollIntervalMs: 60_000,
  });
  runner.start();
  await settle();
  expect([mail.drains.length, other.drains.length]).toEqual([1, 1]); // the first look, then a minute's sleep

  const marked = Date.now();
  await markDue(db, 'wake-mail', ['job-1'], new Date());
  await settle();
  expect(mail.drains.length).toBe(2);
  expect(mail.drains[1]! - marked).toBeLessThan(250);
  expect(other.drains.length).toBe(1);
  await runner.stop();

  // A stopped runner is no longer told.
  await markDue(db, 'wake-mail', ['job-2'], new Date());
  await settle();
  expect(mail.drains.length).toBe(2);
});

it('when the runner is backing off after failed rounds, then a job queued here ends the wait', async () => {
  const mail = fakeQueue('backoff-mail', 3);
  const runner = createJobRunner({
    db,
    clock: systemClock,
    logger,
    queues: [mail.queue],
    pollIntervalMs: 20_000,
  });
  runner.start();
  await settle();
  expect(mail.drains.length).toBe(1); // failed; the next look would be 40 s later

  await markDue(db, 'backoff-mail', ['job-1'], new Date());
  await settle();
  expect(mail.drains.length).toBe(2);
  await runner.stop();
});
