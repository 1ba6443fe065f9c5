import type { Connection } from 'mongoose';
import type { Registry } from 'prom-client';
import { gauge } from '../infra/metrics.js';
import { EMAIL_STATUSES, emailModels } from './email.model.js';

/** Outbox depth by status, counted when Prometheus scrapes (one $group over an indexed field). */
export function registerOutboxMetrics(registry: Registry, db: Connection): void {
  gauge(
    registry,
    'email_outbox_jobs',
    'Email jobs in the outbox by status',
    async (g) => {
      const counts = await emailModels(db).EmailJob.aggregate<{ _id: string; n: number }>([
        { $group: { _id: '$status', n: { $sum: 1 } } },
      ]);
      for (const status of EMAIL_STATUSES) g.set({ status }, counts.find((c) => c._id === status)?.n ?? 0);
    },
    ['status'],
  );
}
