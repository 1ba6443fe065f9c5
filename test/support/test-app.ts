import type { AddressInfo } from 'node:net';
import type { Connection } from 'mongoose';
import { inject } from 'vitest';
import { type AppDeps, createHttpServer } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config/config.js';
import type { Clock } from '../../src/infra/clock.js';
import type { JobQueue } from '../../src/infra/jobs/queue.js';
import { createLogger } from '../../src/infra/logger.js';
import { createMetricsRegistry } from '../../src/infra/metrics.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { prepareSupportersTotal } from '../../src/memberships/supporters.js';
import { DomainEvents } from '../../src/shared/domain-events.js';
import { createStripeEventQueue } from '../../webhooks/stripe-events.service.js';
import { webhookDepsFrom } from '../../webhooks/webhooks.capability.js';
import { FAST_ANSWER_FLOORS } from './answer-floors.js';
import { createTestDatabase, releaseTestDatabase } from './database.js';

export { DEPLOYED_ANSWER_FLOORS, FAST_ANSWER_FLOORS } from './answer-floors.js';

export const TEST_ENV = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  PUBLIC_BASE_URL: 'http://members.test',
  STRIPE_SECRET_KEY: 'sk_test_membershipdrive',
  STRIPE_WEBHOOK_SECRET: 'whsec_test_membershipdrive',
  // Suites start many sessions from one address; test/memberships/checkout-limits.test.ts keeps the defaults.
  CHECKOUT_SESSIONS_PER_IP: '100000',
  CHECKOUT_SESSIONS_PER_EMAIL: '100000',
} as const;

/** The test environment, with answer floors small enough not to slow the suite (./answer-floors.ts). */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  // Production refuses small floors, as it should: a production config keeps the deployed ones.
  const floors = overrides.NODE_ENV === 'production' ? {} : FAST_ANSWER_FLOORS;
  return loadConfig({ ...TEST_ENV, ...floors, ...overrides });
}

export { createTestDatabase, databaseUri, releaseTestDatabase } from './database.js';

export function stripeMockClient() {
  return createStripeClient(TEST_ENV.STRIPE_SECRET_KEY, inject('stripeMock'));
}

/** A clock the test moves by hand. */
export function manualClock(
  start = new Date('2026-11-27T12:00:00Z'),
): Clock & { set(d: Date): void; advance(ms: number): void } {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    set: (d) => {
      now = d.getTime();
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

export interface TestApp {
  url: string;
  deps: AppDeps;
  /**
   * Applies the Stripe events the app has stored and queued, as the process's job runner does
   * right after answering Stripe (the test app runs no job runner). Returns how many it applied;
   * one that failed waits for its retry time, like in production.
   */
  applyStripeEvents(): Promise<number>;
  /**
   * Runs `change` while no drain of the app's Stripe event queue runs. On FerretDB an update is a
   * read-modify-write without a lock, so a test that rewrites queued events' times must not race
   * the queue's own writes (it could put back a status the queue had just moved on).
   */
  whileQueueIdle<T>(change: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const running = new Map<string, TestApp>();

/** The test app listening at `url`, if this test file started it. */
export const testAppAt = (url: string) => running.get(url);

/** Closes every test app this file started and did not close; returns how many. */
export async function closeRunningApps(): Promise<number> {
  const left = [...running.values()];
  await Promise.all(left.map((app) => app.close()));
  return left.length;
}

/** The real app, listening on a random port, against the suite's database and stripe-mock. */
export async function startTestApp(
  options: { db?: Connection; config?: Config; deps?: Partial<AppDeps> } = {},
): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const config = options.config ?? testConfig();
  const deps: AppDeps = {
    config,
    db,
    logger: createLogger({ level: config.logLevel }),
    clock: manualClock(),
    metrics: createMetricsRegistry(),
    stripe: stripeMockClient(),
    events: new DomainEvents(),
    ...options.deps,
  };
  // As src/server.ts does before it listens (a database without models has no total to count).
  if (db.models.SupporterTotal) await prepareSupportersTotal(db, deps.clock.now());
  const server = createHttpServer(deps).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  let stripeEvents: JobQueue | undefined; // made when first used: some tests' databases have no models
  let draining = 0;
  let alone: Promise<void> = Promise.resolve();
  const idle: (() => void)[] = [];
  const url = `http://127.0.0.1:${port}`;
  const app: TestApp = {
    url,
    deps,
    applyStripeEvents: async () => {
      await alone;
      stripeEvents ??= createStripeEventQueue(webhookDepsFrom(deps), deps.stripeEventHandlers);
      draining++;
      try {
        return await stripeEvents.drain();
      } finally {
        if (--draining === 0) for (const wake of idle.splice(0)) wake();
      }
    },
    whileQueueIdle: async (change) => {
      const before = alone;
      let release = () => {};
      alone = new Promise<void>((resolve) => {
        release = resolve;
      });
      await before;
      while (draining > 0) await new Promise<void>((resolve) => idle.push(resolve));
      try {
        return await change();
      } finally {
        release();
      }
    },
    close: async () => {
      running.delete(url);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      if (!options.db) await releaseTestDatabase(db);
    },
  };
  running.set(url, app);
  return app;
}
