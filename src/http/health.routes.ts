import { Router } from 'express';
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

  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.contentType).send(await deps.metrics.metrics());
  });

  return router;
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
    summary: 'Prometheus metrics (keep this off the public internet)',
    responses: {
      200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
    },
  });
}
