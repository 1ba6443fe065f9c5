import Stripe from 'stripe';

export type { Stripe };

/** Stripe answered that the object does not exist (as opposed to failing to answer). */
export const isMissingInStripe = (error: unknown) => (error as { code?: string }).code === 'resource_missing';

/** The id of a Stripe reference, whether Stripe sent it as an id or expanded it into the object. */
export const idOf = (value: string | { id: string } | null | undefined): string | undefined =>
  typeof value === 'string' ? value : value?.id;

export interface StripeConnection {
  /** stripe-mock in tests: { host: '127.0.0.1', port: 12111, protocol: 'http' }. */
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
}

/** Null when no key is configured: the service still runs, payment routes answer 503. */
export function createStripeClient(
  secretKey: string | undefined,
  connection: StripeConnection = {},
  timeoutMs = 10_000,
): Stripe | null {
  if (!secretKey) return null;
  return new Stripe(secretKey, {
    // One retry (same idempotency key): a reader waits at most about twice the timeout before
    // the route answers 503 payments_unavailable.
    maxNetworkRetries: 1,
    timeout: timeoutMs,
    appInfo: { name: 'membership-drive' },
    ...connection,
  });
}

/** The Stripe client the configuration describes (STRIPE_SECRET_KEY, STRIPE_API_URL). */
export function stripeFromConfig(stripe: {
  secretKey?: string;
  apiUrl?: string;
  timeoutMs?: number;
}): Stripe | null {
  if (!stripe.apiUrl) return createStripeClient(stripe.secretKey, {}, stripe.timeoutMs);
  const url = new URL(stripe.apiUrl);
  return createStripeClient(
    stripe.secretKey,
    {
      host: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      protocol: url.protocol === 'http:' ? 'http' : 'https',
    },
    stripe.timeoutMs,
  );
}

/**
 * Stripe failed to answer, answered 5xx, or took too long: payments are unavailable for a
 * moment, which is not the reader's fault (503 payments_unavailable, not 500).
 */
export function isStripeOutage(error: unknown): boolean {
  if (!(error instanceof Stripe.errors.StripeError)) return false;
  if (error instanceof Stripe.errors.StripeConnectionError) return true;
  if (error instanceof Stripe.errors.StripeAPIError) return true;
  if (error instanceof Stripe.errors.StripeRateLimitError) return true;
  return (error.statusCode ?? 0) >= 500;
}
