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

/**
 * A JSON answer that other sites' scripts read (campaign progress, on every article view) is never
 * shown as a document: `nosniff` keeps a browser from rendering it. Helmet's document headers
 * (framing, referrer, opener, agent cluster, IE download, Flash policy, DNS prefetch, XSS auditor)
 * do nothing for it, yet were over half of each answer's bytes. Such an answer keeps nosniff, HSTS
 * (production) and a policy that allows nothing, as OWASP's REST security cheat sheet advises.
 */
const DOCUMENT_ONLY = new Set([
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]);
const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

/** On an Express answer: helmet's headers as a JSON API answer keeps them. */
export function useApiSecurityHeaders(res: ServerResponse): void {
  for (const name of DOCUMENT_ONLY) res.removeHeader(name);
  res.setHeader('Content-Security-Policy', API_CONTENT_SECURITY_POLICY);
}

/** The same for a flat list of helmet's headers (the fast path's). */
export function apiSecurityHeaders(securityHeaders: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < securityHeaders.length; i += 2) {
    const name = securityHeaders[i]!;
    if (DOCUMENT_ONLY.has(name.toLowerCase())) continue;
    const isPolicy = name.toLowerCase() === 'content-security-policy';
    kept.push(name, isPolicy ? API_CONTENT_SECURITY_POLICY : securityHeaders[i + 1]!);
  }
  return kept;
}

/**
 * A page that any site may frame (the campaign widget's iframe), a cross-origin-isolated one too:
 * a host sending `Cross-Origin-Embedder-Policy: require-corp` loads a cross-origin frame only if
 * the frame allows it (CORP `cross-origin`) and is itself require-corp (docs/security.md). What
 * the frame loads is its own origin's, so require-corp costs it nothing.
 */
export function framableByAnySite(res: ServerResponse): void {
  res.removeHeader('X-Frame-Options');
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
}
