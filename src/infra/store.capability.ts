import type { Capability } from './capability.js';
import { registerClaimModel } from './claims.js';
import { registerDueModel } from './due.js';
import { registerLeaseModel } from './leases.js';
import { registerMigrationModel } from './migrations.js';
import { registerTallyModel } from './tally.js';

/** The store primitives every capability builds on (src/infra/README.md). */
export const storeCapability: Capability = {
  name: 'store',
  models(db) {
    registerClaimModel(db);
    registerMigrationModel(db);
    registerTallyModel(db);
    registerLeaseModel(db);
    registerDueModel(db);
  },
};
