import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { ALLOW_ORIGIN, ANY_ORIGIN } from '../http/cors.js';
import { fastRouteMetrics } from '../http/http-metrics.js';
import { rawHeader, requestIdFor } from '../http/request-context.js';
import { apiSecurityHeaders } from '../http/security-headers.js';
import type { Lifecycle } from '../http/shutdown.js';
import { PUBLIC_CACHE } from './campaigns.routes.js';
import { type CachedProgress, type ProgressCache, revalidates } from './progress.service.js';

const PROGRESS_URL = /^\/campaigns\/([a-z0-9-]{1,60})\/progress(?:\?[^#]*)?$/;
const ROUTE = '/campaigns/:slug/progress';

/** What the Express route sets on top of the security headers (later names win, as res.set does). */
const ROUTE_HEADERS = [
  ALLOW_ORIGIN,
  ANY_ORIGIN,
  'Cross-Origin-Resource-Policy',
  'cross-origin',
  'Cache-Control',
  PUBLIC_CACHE,
  'Vary',
  'Accept-Encoding',
];

/** Flat [name, value, …] lists merged by case-insensitive name, the later value winning. */
function merge(...lists: string[][]): string[] {
  const byName = new Map<string, [string, string]>();
  for (const list of lists) {
    for (let i = 0; i < list.length; i += 2) byName.set(list[i]!.toLowerCase(), [list[i]!, list[i + 1]!]);
  }
  return [...byName.values()].flat();
}

interface Prepared {
  /** A string, not a Buffer: Node then writes head and body in one piece instead of a writev of two. */
  body: string;
  ok: string[];
  notModified: string[];
}

/**
 * The progress endpoint is read on every article view of the news site. When its answer is
 * already in this process's cache, it is written straight from Node's HTTP server, before
 * Express: the same bytes and headers the Express route sends (helmet's, as for an API answer; a
 * test compares them), at nearly bare Node's rate (see bench/progress.bench.ts). So nothing here may allocate or
 * look up more than needed per request: each cached answer's header lists are built once, the two
 * request headers it needs are read from the raw list (req.headers is built on first use), the
 * latency metric is observed directly instead of through a `finish` listener, and draining is
 * one property read. Everything else, including a cache miss, goes to Express.
 */
export function progressFastPath(options: {
  cache: ProgressCache;
  /** Helmet's headers as Express sets them (src/http/security-headers.ts). */
  securityHeaders: string[];
  lifecycle: Lifecycle;
  metrics: Registry;
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { cache, lifecycle } = options;
  const base = merge(apiSecurityHeaders(options.securityHeaders), ROUTE_HEADERS);
  const observe = fastRouteMetrics(options.metrics, ROUTE, 'GET');
  const prepared = new WeakMap<CachedProgress, Prepared>();

  function prepare(cached: CachedProgress): Prepared {
    let ready = prepared.get(cached);
    if (!ready) {
      const withEtag = merge(base, ['ETag', cached.etag]);
      ready = {
        body: cached.body,
        ok: merge(withEtag, [
          'Content-Type',
          'application/json; charset=utf-8',
          'Content-Length',
          String(Buffer.byteLength(cached.body)),
        ]),
        // Express answers 304 before setting a type, and a 304 has no body to measure.
        notModified: withEtag,
      };
      prepared.set(cached, ready);
    }
    return ready;
  }

  return function serveCachedProgress(req, res) {
    if (req.method !== 'GET' || !req.url) return false;
    const match = PROGRESS_URL.exec(req.url);
    const cached = match && cache.peek(match[1]!);
    if (!cached) return false;
    const started = performance.now();
    const { body, ok, notModified } = prepare(cached);
    const fresh = revalidates(rawHeader(req, 'if-none-match'), cached.etag);
    const requestId = requestIdFor(rawHeader(req, 'x-request-id'));
    const headers = [...(fresh ? notModified : ok), 'X-Request-Id', requestId];
    // As closeConnectionsWhileDraining does for Express's answers (src/http/shutdown.ts).
    if (lifecycle.draining) headers.push('Connection', 'close');
    if (fresh) res.writeHead(304, headers).end();
    else res.writeHead(200, headers).end(body);
    observe(fresh ? 304 : 200, (performance.now() - started) / 1000);
    return true;
  };
}
