import mongoose, { type Connection } from 'mongoose';

export interface DbOptions {
  uri: string;
  poolSize: number;
  timeoutMs: number;
  /** How often the driver checks the server (default 10 s); tests that restart the server check sooner. */
  heartbeatMs?: number;
}

/** One connection per process; models are bound to it, never to mongoose's global connection. */
export async function connectDatabase(options: DbOptions): Promise<Connection> {
  const connection = mongoose.createConnection(options.uri, {
    maxPoolSize: options.poolSize,
    minPoolSize: 0,
    serverSelectionTimeoutMS: options.timeoutMs,
    connectTimeoutMS: options.timeoutMs,
    socketTimeoutMS: 30_000,
    ...(options.heartbeatMs ? { heartbeatFrequencyMS: options.heartbeatMs } : {}),
    // Indexes are built once, explicitly and awaited, by ensureIndexes() at start.
    autoIndex: false,
    autoCreate: false,
  });
  await connection.asPromise();
  return connection;
}

/** Builds the indexes of every model registered on the connection (unique indexes carry our idempotency). */
export async function ensureIndexes(connection: Connection): Promise<void> {
  for (const model of Object.values(connection.models)) {
    await model.createCollection().catch((error: { codeName?: string }) => {
      if (error.codeName !== 'NamespaceExists') throw error;
    });
    await model.createIndexes();
  }
}

/** Round-trips to the server; rejects if it does not answer within timeoutMs. */
export async function pingDatabase(connection: Connection, timeoutMs: number): Promise<void> {
  const db = connection.db;
  if (!db || connection.readyState !== 1) throw new Error('database not connected');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('database ping timed out')), timeoutMs);
  });
  try {
    await Promise.race([db.command({ ping: 1 }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the server says it is, for logs and the test report: "MongoDB 7.0.2" or "FerretDB v1.24.2 (MongoDB 7.0.42 wire)". */
export async function describeServer(connection: Connection): Promise<string> {
  const info = await connection.db!.admin().command({ buildInfo: 1 });
  return info.ferretdbVersion
    ? `FerretDB ${info.ferretdbVersion} (MongoDB ${info.version} wire protocol)`
    : `MongoDB ${info.version}`;
}

/** A write refused by a unique index: the thing it would create already exists. */
export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: number } | null)?.code === 11000;
}

/** Inserts a document unless one with its `_id` exists; true when this call inserted it. */
export async function insertUnlessPresent(
  collection: { insertOne(doc: never): Promise<unknown> },
  doc: object,
): Promise<boolean> {
  try {
    await collection.insertOne(doc as never);
    return true;
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return false;
  }
}
