import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import { enforceRateLimit } from '../http/rate-limit.js';

/** CHECKOUT_SESSIONS_PER_IP and _PER_EMAIL (src/config/schema-services.ts). */
export interface CheckoutLimits {
  perIp: number;
  perEmail: number;
}

/**
 * Every Checkout Session costs a Stripe call and, for gifts, a stored gift: a card tester starts
 * many. Each start takes a slot per IP and per address (429 with Retry-After when none is left),
 * after the request is validated, so a malformed one uses up nothing.
 */
export async function takeCheckoutSlots(
  db: Connection,
  now: Date,
  limits: CheckoutLimits,
  who: { ip: string | undefined; email: string },
): Promise<void> {
  await enforceRateLimit(db, now, {
    key: `checkout-ip:${who.ip ?? 'unknown'}`,
    limit: limits.perIp,
    windowMs: 10 * 60_000,
  });
  await enforceRateLimit(db, now, {
    // Hashed: the claim outlives the request by a day (retention), the address need not.
    key: `checkout-email:${createHash('sha256').update(who.email).digest('hex').slice(0, 32)}`,
    limit: limits.perEmail,
    windowMs: 60 * 60_000,
  });
}
