import type http from 'node:http';
import net from 'node:net';
import type { Logger } from '../infra/logger.js';

/** Whether this process is shutting down; /readyz and every response consult it. */
export interface Lifecycle {
  draining: boolean;
}

/**
 * Marks every response whose head is written while the process drains `Connection: close`
 * (requests that arrived before SIGTERM included), so each keep-alive client closes its
 * connection after the answer it is waiting for, instead of sending its next request into a
 * socket we are about to close (that is what fails with ECONNRESET).
 */
export function closeConnectionsWhileDraining(lifecycle: Lifecycle, res: http.ServerResponse): void {
  const writeHead = res.writeHead;
  // Every way of answering (writeHead, or end/write through _implicitHeader) passes here.
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    if (lifecycle.draining && !this.headersSent) this.setHeader('Connection', 'close');
    return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

/**
 * Graceful shutdown of a web process, bounded by `timeoutMs` whatever happens:
 * 1. /readyz answers 503 at once and every response from now on carries `Connection: close`;
 * 2. the listener closes (new connections are refused), but idle keep-alive sockets are left a
 *    moment: a client may be sending on one right now, and closing it under that request is the
 *    ECONNRESET a reader would see. Busy sockets close after their response; idle ones after a grace;
 * 3. `stopWork` (background jobs) finishes the job in hand, in parallel;
 * 4. at the deadline whatever is left is closed; then `close` (the database) and exit 0.
 */
export async function shutDownGracefully(options: {
  server: http.Server;
  lifecycle: Lifecycle;
  timeoutMs: number;
  logger: Logger;
  stopWork?: () => Promise<void>;
  close: () => Promise<void>;
  /** How long an idle keep-alive socket may stay open once draining began. */
  idleGraceMs?: number;
}): Promise<void> {
  const { server, lifecycle, timeoutMs, logger } = options;
  const startedAt = Date.now();
  const remaining = () => timeoutMs - (Date.now() - startedAt);
  lifecycle.draining = true;
  const connections = new Promise<void>((resolve) => {
    // net.Server#close, not http.Server#close: the latter also drops idle keep-alive sockets at once.
    net.Server.prototype.close.call(server, () => resolve());
  });
  const idleGraceMs = options.idleGraceMs ?? Math.min(1_000, Math.floor(timeoutMs / 4));
  let idleSweep: NodeJS.Timeout | undefined;
  const firstSweep = setTimeout(() => {
    server.closeIdleConnections();
    idleSweep = setInterval(() => server.closeIdleConnections(), 250);
  }, idleGraceMs);

  const finished = Promise.all([
    connections,
    options
      .stopWork?.()
      .catch((error) => logger.error({ err: error }, 'background work did not stop cleanly')),
  ]);
  // Keep a little of the budget for closing the database and exiting.
  const budget = Math.max(0, remaining() - Math.min(500, timeoutMs / 5));
  const inTime = await Promise.race([
    finished.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), budget).unref()),
  ]);
  clearTimeout(firstSweep);
  clearInterval(idleSweep);
  if (!inTime) {
    logger.warn(
      'shutdown deadline reached: closing remaining connections; unfinished jobs are leased and retried',
    );
    server.closeAllConnections();
  }
  await Promise.race([
    options.close().catch((error) => logger.error({ err: error }, 'closing the database failed')),
    new Promise((resolve) => setTimeout(resolve, Math.max(50, remaining() - 50)).unref()),
  ]);
}
