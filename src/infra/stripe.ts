import Stripe from 'stripe';

export type { Stripe };

/**
 * The Stripe API version this code is written for, in one place: every request sends it, the
 * webhook endpoint is created with it (npm run stripe:setup), and the fixtures use its shapes. It is
 * the version the installed `stripe` package is typed for; upgrading the package means reading
 * Stripe's changelog, moving this pin and the endpoint's version together (stripe:setup creates a
 * new endpoint when they differ), and updating the fixtures.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive' as const satisfies typeof Stripe.API_VERSION;

/**
 * An event rendered in another API version than ours has other shapes (fields move between
 * versions): say so loudly, with both versions, so an endpoint left on an old version is noticed.
 */
export function warnOnApiVersion(
  logger: { warn(fields: object, message: string): void },
  event: { id: string; type: string; api_version?: string | null },
): void {
  if (event.api_version && event.api_version !== STRIPE_API_VERSION) {
    logger.warn(
      {
        eventId: event.id,
        type: event.type,
        eventApiVersion: event.api_version,
        apiVersion: STRIPE_API_VERSION,
      },
      'stripe event rendered in another API version than the code is written for; check the webhook endpoint (npm run stripe:setup)',
    );
  }
}

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
    apiVersion: STRIPE_API_VERSION,
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

/** An error from Stripe's client: whatever its status, it is about our request to Stripe, not the reader's to us. */
export const isStripeError = (error: unknown): boolean => error instanceof Stripe.errors.StripeError;
export const isStripeIdempotencyError = (error: unknown): boolean =>
  error instanceof Stripe.errors.StripeIdempotencyError;

/**
 * Stripe keeps one currency per customer: a member paying in GBP who picks EUR is refused with
 * "You cannot combine currencies on a single customer … with currency gbp". Returns that currency.
 */
export function currencyClashOf(error: unknown): string | undefined {
  if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) return undefined;
  if (!/combine currencies/i.test(error.message)) return undefined;
  return /with currency ([a-z]{3})\b/i.exec(error.message)?.[1]?.toUpperCase() ?? 'another currency';
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
