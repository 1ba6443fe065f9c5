import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * HTTP latency by route and status, and webhook deliveries by source and status (what Stripe
 * and SendGrid were answered: 2xx applied or duplicate, 4xx refused, 5xx retried by them).
 * Routes are labelled by their pattern, never the raw URL, so labels stay few.
 */
export function createHttpMetrics(registry: Registry) {
  const latency = latencyHistogram(registry);
  const webhooks =
    (registry.getSingleMetric('webhook_deliveries_total') as Counter | undefined) ??
    new Counter({
      name: 'webhook_deliveries_total',
      help: 'Webhook deliveries received, by source and the status they were answered',
      labelNames: ['source', 'status'],
      registers: [registry],
    });

  return function observe(req: IncomingMessage, res: ServerResponse, fastRoute?: string): void {
    const end = latency.startTimer();
    res.once('finish', () => {
      const expressRoute = (req as { route?: { path?: unknown } }).route?.path;
      const route = fastRoute ?? (typeof expressRoute === 'string' ? expressRoute : 'unmatched');
      const status = String(res.statusCode);
      end({ route, method: req.method ?? 'GET', status });
      const webhook = /^\/webhooks\/(stripe|sendgrid)\b/.exec(req.url ?? '');
      if (webhook) webhooks.inc({ source: webhook[1]!, status });
    });
  };
}

const latencyHistogram = (registry: Registry) =>
  (registry.getSingleMetric('http_request_duration_seconds') as Histogram | undefined) ??
  new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

/**
 * The same latency metric for a route answered synchronously outside Express (the progress fast
 * path): observed by the caller right after it wrote the answer, one labelled child per status, so
 * a request costs no `finish` listener, closure or label hashing.
 */
export function fastRouteMetrics(registry: Registry, route: string, method: string) {
  const latency = latencyHistogram(registry);
  const byStatus = new Map<number, { observe(seconds: number): void }>();
  return (status: number, seconds: number): void => {
    let child = byStatus.get(status);
    if (!child) {
      child = latency.labels({ route, method, status: String(status) });
      byStatus.set(status, child);
    }
    child.observe(seconds);
  };
}
