import type { Connection } from 'mongoose';
import { CAPABILITIES } from './capabilities.js';

// Every capability's models, bound to one connection. ensureIndexes() builds their indexes at start.
export function registerModels(db: Connection): void {
  for (const capability of CAPABILITIES) capability.models?.(db);
}
