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
): Stripe | null {
  if (!secretKey) return null;
  return new Stripe(secretKey, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    appInfo: { name: 'membership-drive' },
    ...connection,
  });
}

/** The Stripe client the configuration describes (STRIPE_SECRET_KEY, STRIPE_API_URL). */
export function stripeFromConfig(stripe: { secretKey?: string; apiUrl?: string }): Stripe | null {
  if (!stripe.apiUrl) return createStripeClient(stripe.secretKey);
  const url = new URL(stripe.apiUrl);
  return createStripeClient(stripe.secretKey, {
    host: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    protocol: url.protocol === 'http:' ? 'http' : 'https',
  });
}
