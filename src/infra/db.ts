import mongoose, { type Connection } from 'mongoose';
import type { Logger } from './logger.js';

export interface DbOptions {
  uri: string;
  poolSize: number;
  timeoutMs: number;
  /** How often the driver checks the server (default 10 s); tests that restart the server check sooner. */
  heartbeatMs?: number;
  /** How long past its own timeouts a heartbeat may run before the monitor counts as hung (default 5 s). */
  monitorGraceMs?: number;
  logger?: Pick<Logger, 'warn'>;
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
  try {
    await connection.asPromise();
  } catch (error) {
    await connection.close().catch(() => {}); // its monitor would keep trying in the background
    throw error;
  }
  reopenWhenMonitorHangs(connection, options);
  return connection;
}

/**
 * Works around a MongoDB driver bug (mongodb 7.8 to 7.9.1): when every socket to the server dies at
 * once, the server monitor may write its heartbeat to a socket Node has already destroyed but whose
 * 'close' it has not seen yet, and then wait for 'drain' forever. That monitor never checks again,
 * the server stays Unknown, and every operation fails server selection until the process restarts.
 * A heartbeat that has not ended well past its own timeouts is that: reopen the client, which
 * starts a new monitor (models keep working: they go through the same client).
 */
function reopenWhenMonitorHangs(connection: Connection, options: DbOptions): void {
  const client = connection.getClient();
  // A polled heartbeat ends within about two connect timeouts (connect, then hello); an awaited one
  // (the streaming protocol of MongoDB 4.4+, not FerretDB) also waits up to the heartbeat interval.
  const graceMs = options.monitorGraceMs ?? 5_000;
  const hungAfterMs = (awaited: boolean) =>
    (awaited ? (options.heartbeatMs ?? 10_000) : 0) + 2 * options.timeoutMs + graceMs;
  // Checked at most once a second, and often enough that a hung monitor is seen within its grace.
  const checkEveryMs = Math.min(1_000, graceMs);
  const inProgress = new Map<string, number>(); // server address -> when its heartbeat is hung
  client.on('serverHeartbeatStarted', (event) => {
    if (!inProgress.has(event.connectionId))
      inProgress.set(event.connectionId, Date.now() + hungAfterMs(event.awaited));
  });
  client.on('serverHeartbeatSucceeded', (event) => inProgress.delete(event.connectionId));
  client.on('serverHeartbeatFailed', (event) => inProgress.delete(event.connectionId));
  let reopening = false;
  let closed = false;
  const reopen = async () => {
    await client.close().catch(() => {});
    // Until it connects: a client whose connect failed stays closed (operations never reconnect it).
    while (!closed) {
      try {
        await client.connect();
        return;
      } catch (error) {
        options.logger?.warn({ err: error }, 'reopening the database client failed; trying again');
        await new Promise((r) => setTimeout(r, Math.min(1_000, options.timeoutMs)));
      }
    }
  };
  const timer = setInterval(() => {
    const now = Date.now();
    const hung = [...inProgress].find(([, hungAt]) => now > hungAt);
    if (!hung || reopening) return;
    reopening = true;
    inProgress.clear();
    options.logger?.warn(
      { server: hung[0] },
      'database monitor hung (driver bug); reopening the database client',
    );
    void reopen().finally(() => {
      reopening = false;
    });
  }, checkEveryMs);
  timer.unref();
  connection.once('close', () => {
    closed = true;
    clearInterval(timer);
  });
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
