import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fromRoot } from './paths.js';

// A local MongoDB-compatible server for development and tests, so nobody needs an account or a
// server to start: a real `mongod` through mongodb-memory-server where one can be had, otherwise
// FerretDB (MongoDB wire protocol over SQLite), found on PATH, in the cache, or built once with Go.

export const FERRETDB_VERSION = 'v1.24.2';
// Built with the `_id` index patch (scripts/install-test-services.sh says why).
export const FERRETDB_BUILD = `${FERRETDB_VERSION}-idindex`;
// The same folder scripts/install-test-services.sh builds into.
const CACHE_BIN = path.join(os.homedir(), '.cache', 'membership-drive', 'bin');

export interface EmbeddedDatabase {
  uri: string;
  kind: 'mongodb-memory-server' | 'ferretdb';
  dataDir: string;
  /** The server's process, where it is ours (FerretDB): benchmarks read its CPU time. */
  pid?: number;
  stop(): Promise<void>;
}

export class EmbeddedDatabaseUnavailable extends Error {}

export async function startEmbeddedDatabase(options: {
  dataDir: string;
  log?: (message: string) => void;
  /** Try mongodb-memory-server's own mongod download before FerretDB (default true). */
  download?: boolean;
  downloadTimeoutMs?: number;
}): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // The two servers keep incompatible files: a data folder stays with the kind that made it.
  const made = readKind(dataDir);
  if (made !== 'ferretdb') {
    const mongod =
      findOnPath('mongod') ??
      (options.download === false
        ? undefined
        : await downloadMongod(log, options.downloadTimeoutMs ?? DOWNLOAD_TIMEOUT_MS));
    if (mongod) return remember(dataDir, await startMongoMemoryServer(mongod, dataDir));
    if (made === 'mongodb-memory-server') {
      throw new EmbeddedDatabaseUnavailable(
        `${dataDir} holds a MongoDB database, but no mongod could be found or downloaded. ` +
          'Put mongod on PATH, set MONGODB_URI, or set EMBEDDED_DB_DIR to another folder.',
      );
    }
  }
  const ferretdb = await findOrBuildFerretDb(log);
  return remember(dataDir, await startFerretDb(ferretdb, dataDir));
}

const DOWNLOAD_TIMEOUT_MS = 120_000;
const KIND_FILE = '.embedded-kind';

function readKind(dataDir: string): EmbeddedDatabase['kind'] | undefined {
  const file = path.join(dataDir, KIND_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim() as EmbeddedDatabase['kind'];
  // Folders made before the kind was written down: FerretDB leaves its log and SQLite files.
  if (existsSync(path.join(dataDir, 'ferretdb.log'))) return 'ferretdb';
  return undefined;
}

function remember(dataDir: string, database: EmbeddedDatabase): EmbeddedDatabase {
  writeFileSync(path.join(dataDir, KIND_FILE), `${database.kind}\n`);
  return database;
}

/** mongodb-memory-server's own switch; `MONGOMS_RUNTIME_DOWNLOAD=false` skips the download. */
function downloadAllowed(): boolean {
  return !/^(false|0|no|off)$/i.test(process.env.MONGOMS_RUNTIME_DOWNLOAD ?? '');
}

/**
 * Most people who run `npm run dev` have internet: they get a real MongoDB, downloaded once into
 * mongodb-memory-server's cache. Without internet the download fails fast (or is cut off at the
 * timeout) and FerretDB takes over; the log says which and why.
 */
async function downloadMongod(
  log: (message: string) => void,
  timeoutMs: number,
): Promise<string | undefined> {
  if (!downloadAllowed()) return undefined;
  const { MongoBinary } = await import('mongodb-memory-server-core');
  log(`looking for a MongoDB server to download (once, up to ${Math.round(timeoutMs / 1000)} s)`);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      MongoBinary.getPath(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        timer.unref();
      }),
    ]);
  } catch (error) {
    log(`could not download MongoDB (${(error as Error).message.split('\n')[0]}); using FerretDB instead`);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function startMongoMemoryServer(systemBinary: string, dataDir: string): Promise<EmbeddedDatabase> {
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const server = await MongoMemoryServer.create({
    binary: { systemBinary },
    instance: { dbPath: dataDir, storageEngine: 'wiredTiger' },
  });
  return {
    uri: server.getUri('membership'),
    kind: 'mongodb-memory-server',
    dataDir,
    stop: async () => {
      await server.stop({ doCleanup: false });
    },
  };
}

export async function findOrBuildFerretDb(log: (message: string) => void): Promise<string> {
  const onPath = findOnPath('ferretdb');
  if (onPath) return onPath;
  const cached = path.join(CACHE_BIN, `ferretdb-${FERRETDB_BUILD}`);
  if (existsSync(cached)) return cached;
  if (!findOnPath('go')) {
    throw new EmbeddedDatabaseUnavailable(
      'No local database available: install MongoDB (mongod on PATH), or FerretDB ' +
        `${FERRETDB_VERSION} (ferretdb on PATH), or Go (to build FerretDB once), or set MONGODB_URI.`,
    );
  }
  log(`building FerretDB ${FERRETDB_VERSION} once into ${CACHE_BIN} (about a minute)`);
  const { stdout } = await promisify(execFile)(fromRoot('scripts/install-test-services.sh'), ['ferretdb'], {
    maxBuffer: 10 * 1024 * 1024,
  });
  return stdout.trim().split('\n').at(-1)!;
}

/** Starts FerretDB on `port` (a free one if not given): the same port and data dir restart the same database. */
export async function startFerretDb(
  binary: string,
  dataDir: string,
  port?: number,
): Promise<EmbeddedDatabase> {
  port ??= await freePort();
  const logFile = createWriteStream(path.join(dataDir, 'ferretdb.log'), { flags: 'a' });
  const child = spawn(
    binary,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/?_pragma=synchronous(normal)`,
      `--listen-addr=127.0.0.1:${port}`,
      `--state-dir=${dataDir}`,
      '--telemetry=disable',
      '--log-level=error',
      '--debug-addr=-',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(logFile);
  child.stderr?.pipe(logFile);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  await waitForPort(port, child);
  return {
    uri: `mongodb://127.0.0.1:${port}/membership`,
    kind: 'ferretdb',
    dataDir,
    pid: child.pid,
    stop: async () => {
      process.off('exit', killOnExit);
      await stopChild(child);
      logFile.end();
    },
  };
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.spawnfile} did not listen on port ${port} within ${timeoutMs} ms`);
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
