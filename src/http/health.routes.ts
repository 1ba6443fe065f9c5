import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { type Request, Router } from 'express';
import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { pingDatabase } from '../infra/db.js';
import { AppError, errorBodySchema } from './errors.js';
import type { ApiDocs } from './openapi.js';
import type { Lifecycle } from './shutdown.js';

export function healthRoutes(deps: {
  db: Connection;
  metrics: Registry;
  dbTimeoutMs: number;
  lifecycle?: Lifecycle;
  /** METRICS_TOKEN: unset, the public port does not serve /metrics. */
  metricsToken?: string;
}): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    // A draining process says so at once, so the load balancer stops sending it traffic.
    if (deps.lifecycle?.draining) throw new AppError('not_ready', 'The service is shutting down.');
    try {
      await pingDatabase(deps.db, deps.dbTimeoutMs);
    } catch {
      throw new AppError('not_ready', 'The database is not reachable.');
    }
    res.json({ status: 'ready' });
  });

  // Operators only (docs/security.md, "Metrics"). Some counters move with one reader's action (the
  // outbox by status moves when a member's sign-in link or a sponsorship request is queued, not
  // when a stranger's is not): read by anyone, they would tell who is a member. So the public port
  // serves /metrics only to METRICS_TOKEN as a bearer token, and without one configured (the
  // default, production too) not at all: the answer is the 404 of any unknown address. Scrape
  // METRICS_PORT instead, a listener of its own on METRICS_HOST (loopback unless set).
  router.get('/metrics', async (req, res, next) => {
    if (!deps.metricsToken) return next();
    if (!bearerMatches(req, deps.metricsToken)) {
      res.set('WWW-Authenticate', 'Bearer realm="metrics"');
      throw new AppError('unauthorized', 'Send the metrics token as a bearer token.');
    }
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });

  return router;
}

function bearerMatches(req: Request, token: string): boolean {
  const sent = Buffer.from(/^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}

/**
 * /metrics on a listener of its own (METRICS_PORT, on METRICS_HOST), for the web process and the
 * worker alike: nothing else is served there, and it is not the port the public reaches.
 */
export async function startMetricsListener(
  metrics: Registry,
  at: { port: number; host: string },
): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') return res.writeHead(404).end();
    try {
      res.writeHead(200, { 'Content-Type': metrics.contentType }).end(await metrics.metrics());
    } catch {
      res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, resolve);
  });
  return server;
}

export function healthDocs(docs: ApiDocs): void {
  const status = (value: string) => z.object({ status: z.literal(value) });
  docs.registerPath({
    method: 'get',
    path: '/healthz',
    tags: ['Operations'],
    summary: 'Liveness: the process is up',
    responses: { 200: { description: 'Up', content: { 'application/json': { schema: status('ok') } } } },
  });
  docs.registerPath({
    method: 'get',
    path: '/readyz',
    tags: ['Operations'],
    summary: 'Readiness: the database answers',
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: status('ready') } } },
      503: {
        description: 'Database unreachable, or the process is shutting down',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
  docs.registerPath({
    method: 'get',
    path: '/metrics',
    tags: ['Operations'],
    summary:
      'Prometheus metrics, for operators: with METRICS_TOKEN as a bearer token; without METRICS_TOKEN set, not served on this port (use METRICS_PORT)',
    responses: {
      200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
      401: {
        description: 'No or another bearer token',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      404: {
        description: 'METRICS_TOKEN is not set: not served on this port',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
