import type { Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import { gauge } from '../metrics.js';
import type { JobQueue } from './queue.js';

/** Backlog and the age of the oldest due job per queue, read when Prometheus scrapes. */
export function registerJobMetrics(registry: Registry, clock: Clock, queues: JobQueue[]): void {
  const backlogs = async () =>
    Promise.all(queues.map(async (q) => ({ queue: q.name, ...(await q.backlog()) })));
  gauge(
    registry,
    'jobs_due',
    'Background jobs due now and not held by a worker, by queue',
    async (g) => {
      for (const b of await backlogs()) g.set({ queue: b.queue }, b.due);
    },
    ['queue'],
  );
  gauge(
    registry,
    'jobs_oldest_due_age_seconds',
    'How long the oldest due job has waited, by queue (0 when none is due)',
    async (g) => {
      const now = clock.now().getTime();
      for (const b of await backlogs())
        g.set({ queue: b.queue }, b.oldestDueAt ? Math.max(0, (now - b.oldestDueAt.getTime()) / 1000) : 0);
    },
    ['queue'],
  );
}
