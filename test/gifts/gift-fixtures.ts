import { type Connection, Types } from 'mongoose';
import type { GiftDeps } from '../../src/gifts/gift-deps.js';
import { DEFAULT_GIFT_OPTIONS } from '../../src/gifts/gift-options.js';
import type { Clock } from '../../src/infra/clock.js';
import { createLogger } from '../../src/infra/logger.js';
import { DomainEvents } from '../../src/shared/domain-events.js';

// What the component tests of gifts share: the capability's dependencies without an app, and a
// gift record as the purchase leaves it.

/** Gifts' dependencies on a test database, with no Stripe unless `extra` gives one. */
export const giftTestDeps = (db: Connection, clock: Clock, extra: Partial<GiftDeps> = {}): GiftDeps => ({
  db,
  clock,
  logger: createLogger({ level: 'silent' }),
  events: new DomainEvents(),
  stripe: null,
  options: DEFAULT_GIFT_OPTIONS,
  publicBaseUrl: 'https://members.example',
  linkSecret: 'a-secret-of-the-test',
  timeZone: 'Europe/Kyiv',
  deliveryHour: 9,
  expiryMonths: 12,
  ...extra,
});

/** A three-month gift in pounds, the `n`-th of a test (`who` keeps the addresses apart by file). */
export const giftRecord = (who: string, n: number, deliverAt: Date) => ({
  _id: new Types.ObjectId(),
  purchaser: { name: 'Olena', email: `${who}-buyer${n}@example.com` },
  recipient: { name: 'Taras', email: `${who}-recipient${n}@example.com` },
  message: 'Happy birthday',
  showPurchaserName: true,
  durationMonths: 3,
  amount: 1300,
  currency: 'gbp',
  locale: 'en',
  deliverAt,
});
