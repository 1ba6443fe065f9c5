import type { Connection } from 'mongoose';
import { registerEmailModels } from './email/email.model.js';
import { registerClaimModel } from './infra/claims.js';

// Every capability's models, bound to one connection. ensureIndexes() builds their indexes at start.
export function registerModels(db: Connection): void {
  registerClaimModel(db);
  registerEmailModels(db);
}
