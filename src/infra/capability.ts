import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { RequestHandler } from 'express';
import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import type Stripe from 'stripe';
import type { Config } from '../config/config.js';
import type { DomainEvents } from '../shared/domain-events.js';
import type { Clock } from './clock.js';
import type { PeriodicTask } from './jobs/runner.js';
import type { Logger } from './logger.js';

// How a capability declares itself, once: its models, what it listens to, its periodic tasks,
// its routes and their API docs. src/capabilities.ts lists the declarations and the processes
// compose that list (docs/architecture.md). A capability never mounts itself anywhere.

/** What every process has: web server, worker and command-line tools alike. */
export interface ProcessContext {
  config: Config;
  db: Connection;
  clock: Clock;
  logger: Logger;
  metrics: Registry;
  /** Null when payments are not configured. */
  stripe: Stripe | null;
  /** Where capabilities tell each other what happened (src/shared/domain-events.ts). */
  events: DomainEvents;
}

export interface Capability<RouteContext extends ProcessContext = ProcessContext> {
  name: string;
  /** Binds the capability's mongoose models to a connection. */
  models?(db: Connection): void;
  /** Subscribes to other capabilities' domain events; called once per DomainEvents. */
  listen?(ctx: ProcessContext): void;
  /** Work run once per period across every process, by the one job runner (src/infra/jobs/). */
  tasks?(ctx: ProcessContext): PeriodicTask[];
  /** Routes that read the raw body themselves (signed webhooks): mounted before any body parser. */
  rawRoutes?(ctx: RouteContext): RequestHandler;
  /** Routes mounted after the body parsers, in the order of the capability list. */
  routes?(ctx: RouteContext): RequestHandler | undefined;
  /** The routes' OpenAPI entries, from the same zod schemas the routes validate with. */
  docs?(docs: OpenAPIRegistry): void;
}
