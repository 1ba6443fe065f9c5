import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { Config } from '../config/config.js';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Helmet's headers on every Express answer; the cached progress fast path sends the same ones. */
export function securityHeaders(config: Config): Middleware {
  return helmet({
    // Local development runs on plain http://localhost; HSTS there would stick in the browser.
    strictTransportSecurity: config.env === 'production',
    contentSecurityPolicy: {
      directives: {
        upgradeInsecureRequests: config.env === 'production' ? [] : null,
        // Our forms redirect to Stripe Checkout and the Customer Portal; browsers apply
        // form-action to those redirects too.
        formAction: ["'self'", 'https://checkout.stripe.com', 'https://billing.stripe.com'],
      },
    },
  }) as Middleware;
}

/**
 * The headers a middleware sets, as the flat [name, value, …] list writeHead takes. Helmet's depend
 * on the config only, so they are collected once at start and written without running it again.
 */
export function headersSetBy(middleware: Middleware): string[] {
  const headers = new Map<string, [string, string]>();
  const res = {
    setHeader(name: string, value: unknown) {
      headers.set(name.toLowerCase(), [name, String(value)]);
      return res;
    },
    removeHeader(name: string) {
      headers.delete(name.toLowerCase());
    },
    getHeader: (name: string) => headers.get(name.toLowerCase())?.[1],
  };
  let error: unknown;
  middleware({ headers: {} } as IncomingMessage, res as unknown as ServerResponse, (e) => {
    error = e;
  });
  if (error) throw error;
  return [...headers.values()].flat();
}
