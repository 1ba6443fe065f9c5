import type { Capability } from '../infra/capability.js';
import { sweepExpiredRecords } from './retention.service.js';

/** Temporary records deleted when their purpose has passed (docs/privacy.md). */
export const retentionCapability: Capability = {
  name: 'retention',
  tasks: (ctx) => [{ name: 'retention', everyMs: 60 * 60_000, run: () => sweepExpiredRecords(ctx) }],
};
