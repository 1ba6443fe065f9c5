import type { Connection } from 'mongoose';

// Every capability's models, bound to one connection. ensureIndexes() builds their indexes at start.
export function registerModels(_db: Connection): void {}
