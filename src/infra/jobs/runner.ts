import { randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Clock } from '../clock.js';
import { onMarkedDue } from '../due.js';
import { insertLease } from '../leases.js';
import type { Logger } from '../logger.js';
import type { JobQueue } from './queue.js';

// The loops that run the queues and the periodic tasks of a process: each loop either makes
// progress or sleeps, and stop() returns after the job in hand.

/** Work that runs once per period across all processes (the first to insert the period's key). */
export interface PeriodicTask {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

export interface JobRunner {
  /** Starts the loops; a job marked due by this process (src/infra/due.ts) is looked for at once. */
  start(): void;
  /** Stops taking work, lets the job in hand finish, and returns; the backlog stays for later. */
  stop(): Promise<void>;
}

export function createJobRunner(options: {
  db: Connection;
  clock: Clock;
  logger: Logger;
  queues: JobQueue[];
  tasks?: PeriodicTask[];
  pollIntervalMs?: number;
}): JobRunner {
  const { db, clock, queues, tasks = [], pollIntervalMs = 1_000 } = options;
  const logger = options.logger.child({ component: 'job-runner' });
  const holder = randomUUID().slice(0, 8);
  let stopping = false;
  let loops: Promise<void>[] = [];
  // Each sleeping loop's wake-up, with the queue it sleeps for (none: the periodic tasks' loop).
  const sleepers = new Map<() => void, string | undefined>();
  // Queues woken while their loop was busy: the loop looks again instead of sleeping.
  const woken = new Set<string>();

  function sleep(ms: number, queue?: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(10, ms));
      timer.unref();
      sleepers.set(done, queue);
    });
  }

  async function queueLoop(queue: JobQueue): Promise<void> {
    let failures = 0;
    let idleRounds = 0;
    while (!stopping) {
      try {
        const processed = await queue.drain(() => stopping);
        failures = 0;
        if (processed > 0 || woken.delete(queue.name)) {
          idleRounds = 0;
          continue;
        }
        // Idle: poll less often (up to 5 polls' time), since each poll is a query the database
        // answers by scanning on FerretDB; any work found brings the interval back.
        idleRounds = Math.min(idleRounds + 1, 5);
        const idleWait = pollIntervalMs * (1 + Math.floor(idleRounds / 2) * 2);
        const pausedUntil = await queue.pausedUntil();
        const wait = pausedUntil ? pausedUntil.getTime() - clock.now().getTime() : idleWait;
        await sleep(Math.min(Math.max(wait, pollIntervalMs), 60_000), queue.name);
        woken.delete(queue.name);
      } catch (error) {
        // The database is away, typically: wait longer each time, up to 30 s, and never spin.
        failures++;
        logger.error({ err: error, queue: queue.name, failures }, 'job queue round failed');
        // Work queued meanwhile in this process ends the wait: its marker was just written.
        await sleep(Math.min(30_000, pollIntervalMs * 2 ** Math.min(failures, 5)), queue.name);
      }
    }
  }

  async function taskLoop(): Promise<void> {
    const lastPeriod = new Map<string, number>();
    while (!stopping) {
      for (const task of tasks) {
        if (stopping) break;
        const now = clock.now();
        const period = Math.floor(now.getTime() / task.everyMs);
        if (lastPeriod.get(task.name) === period) continue;
        try {
          const key = `periodic:${task.name}:${period}`;
          const expires = new Date((period + 1) * task.everyMs);
          // One process per period runs it; a run that dies is simply run again next period.
          if (await insertLease(db, key, holder, expires)) await task.run();
          lastPeriod.set(task.name, period);
        } catch (error) {
          logger.error({ err: error, task: task.name }, 'periodic task failed');
          lastPeriod.set(task.name, period);
        }
      }
      await sleep(Math.max(pollIntervalMs, 1_000));
    }
  }

  /** New work was queued for `queue`: look now rather than at the next poll. */
  function wake(queue: string): void {
    if (stopping || !queues.some((q) => q.name === queue)) return;
    woken.add(queue);
    for (const [wakeUp, sleepingFor] of [...sleepers]) if (sleepingFor === queue) wakeUp();
  }
  let unsubscribe = () => {};

  return {
    start() {
      if (loops.length) return;
      stopping = false;
      unsubscribe = onMarkedDue(db, wake);
      loops = [...queues.map(queueLoop), ...(tasks.length ? [taskLoop()] : [])];
    },
    async stop() {
      stopping = true;
      unsubscribe();
      for (const wakeUp of [...sleepers.keys()]) wakeUp();
      await Promise.all(loops);
      loops = [];
    },
  };
}

/** One queue with a runner of its own: what a process holds that works only this queue (or a test). */
export interface SoloWorker {
  queue: JobQueue;
  /** Claims and processes one due job; false when none was due. */
  runOnce(): Promise<boolean>;
  /** Processes due jobs until none is left that this worker can take; returns how many. */
  drain(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

export function soloWorker(
  queue: JobQueue,
  options: { db: Connection; clock: Clock; logger: Logger; pollIntervalMs?: number },
): SoloWorker {
  const runner = createJobRunner({ ...options, queues: [queue] });
  return {
    queue,
    runOnce: () => queue.runOnce(),
    drain: () => queue.drain(),
    start: () => runner.start(),
    stop: () => runner.stop(),
  };
}
