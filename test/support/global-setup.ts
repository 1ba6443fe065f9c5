import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import type { TestProject } from 'vitest/node';
import { describeServer } from '../../src/infra/db.js';
import {
  type EmbeddedDatabase,
  freePort,
  startEmbeddedDatabase,
  stopChild,
  waitForPort,
} from '../../src/infra/embedded-db.js';
import { fromRoot } from '../../src/infra/paths.js';

// Starts the real services the suite runs against, once per run: a MongoDB-compatible server
// (MONGODB_URI if set, else mongod via mongodb-memory-server, else FerretDB) and stripe-mock.
// A service that cannot be had fails the run here, loudly; no test silently skips.

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    stripeMock: { host: string; port: number; protocol: 'http' };
  }
}

export default async function setup(project: TestProject) {
  const log = (message: string) => console.log(`[test services] ${message}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'membership-drive-test-'));
  let embedded: EmbeddedDatabase | undefined;
  let mongoUri = process.env.MONGODB_URI;
  if (!mongoUri) {
    embedded = await startEmbeddedDatabase({ dataDir: path.join(tmp, 'db'), log });
    mongoUri = embedded.uri;
  }
  const probe = await mongoose.createConnection(mongoUri, { serverSelectionTimeoutMS: 10_000 }).asPromise();
  const server = await describeServer(probe);
  await probe.close();
  log(`database: ${server} via ${embedded?.kind ?? 'MONGODB_URI'}`);

  const stripeMock = await startStripeMock(log);

  mkdirSync(fromRoot('test-results'), { recursive: true });
  writeFileSync(
    fromRoot('test-results/services.json'),
    JSON.stringify(
      { database: server, via: embedded?.kind ?? 'MONGODB_URI', stripeMock: stripeMock.version },
      null,
      2,
    ),
  );

  project.provide('mongoUri', mongoUri);
  project.provide('stripeMock', { host: '127.0.0.1', port: stripeMock.port, protocol: 'http' });

  return async () => {
    await stopChild(stripeMock.child);
    await embedded?.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
}

async function startStripeMock(
  log: (m: string) => void,
): Promise<{ child: ChildProcess; port: number; version: string }> {
  const binary = execFileSync(fromRoot('scripts/install-test-services.sh'), ['stripe-mock'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .at(-1)!;
  const port = await freePort();
  // stripe-mock also opens HTTPS on 12112 unless told otherwise: two runs at once would collide.
  const child = spawn(binary, ['-http-addr', `127.0.0.1:${port}`, '-https-addr', '127.0.0.1:'], {
    stdio: 'ignore',
  });
  await waitForPort(port, child);
  const version = path.basename(binary).replace('stripe-mock-', '');
  log(`stripe-mock ${version} on port ${port}`);
  return { child, port, version };
}
