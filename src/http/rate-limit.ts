import type { Connection } from 'mongoose';
import { takeSlot } from '../infra/rate-limit.js';
import { AppError } from './errors.js';

// The HTTP half of the one rate limiter: a refused request answers 429 with Retry-After. The slots
// themselves, and why they are unique inserts, are in src/infra/rate-limit.ts.

export interface RateLimitRule {
  /** What is counted, e.g. `account-sign-in-ip:203.0.113.7`. */
  key: string;
  limit: number;
  windowMs: number;
}

/**
 * Takes a slot for this request or refuses it with 429 and Retry-After (seconds until the window
 * turns). Call it after the request is validated: a malformed request is refused for that and
 * must not use up anyone's allowance or write anything.
 */
export async function enforceRateLimit(db: Connection, now: Date, rule: RateLimitRule): Promise<void> {
  if (await takeSlot(db, rule.key, rule.limit, rule.windowMs, now)) return;
  const windowEnd = (Math.floor(now.getTime() / rule.windowMs) + 1) * rule.windowMs;
  throw new AppError(
    'rate_limited',
    undefined,
    undefined,
    Math.max(1, Math.ceil((windowEnd - now.getTime()) / 1000)),
  );
}
