import type { Capability } from '../infra/capability.js';
import { staffAuthFrom } from '../staff/staff.capability.js';
import { readerDataRoutes } from './reader-data.routes.js';
import { sweepExpiredRecords } from './retention.service.js';

/**
 * Temporary records deleted when their purpose has passed, and a reader's data exported or erased
 * wherever it is held (docs/privacy.md).
 */
export const retentionCapability: Capability = {
  name: 'retention',
  routes: (ctx) =>
    readerDataRoutes({
      db: ctx.db,
      clock: ctx.clock,
      linkSecret: ctx.config.session.secret,
      staffAuth: staffAuthFrom(ctx.config),
    }),
  tasks: (ctx) => [{ name: 'retention', everyMs: 60 * 60_000, run: () => sweepExpiredRecords(ctx) }],
};
