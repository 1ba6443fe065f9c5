import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import mongoose from 'mongoose';
import type { TestProject } from 'vitest/node';
import { describeServer } from '../../src/infra/db.js';
import { type EmbeddedDatabase, startEmbeddedDatabase, stopChild } from '../../src/infra/embedded-db.js';
import { fromRoot } from '../../src/infra/paths.js';
import { startStripeMock } from './stripe-mock.js';

// Starts the real services the suite runs against, once per run: a MongoDB-compatible server
// (MONGODB_URI if set, else mongod via mongodb-memory-server, else FerretDB) and stripe-mock.
// A service that cannot be had fails the run here, loudly; no test silently skips.

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    stripeMock: { host: string; port: number; protocol: 'http' };
    /** Where the program, compiled once for this run, lives: processes that tests spawn run it. */
    programBuild: string;
  }
}

export default async function setup(project: TestProject) {
  const log = (message: string) => console.log(`[test services] ${message}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'membership-drive-test-'));
  const programBuild = compileProgram();
  let embedded: EmbeddedDatabase | undefined;
  let mongoUri = process.env.MONGODB_URI;
  if (!mongoUri) {
    // No download here: the suite never reaches past this machine, and runs the same everywhere.
    embedded = await startEmbeddedDatabase({ dataDir: path.join(tmp, 'db'), log, download: false });
    mongoUri = embedded.uri;
  }
  const probe = await mongoose.createConnection(mongoUri, { serverSelectionTimeoutMS: 10_000 }).asPromise();
  const server = await describeServer(probe);
  await probe.close();
  log(`database: ${server} via ${embedded?.kind ?? 'MONGODB_URI'}`);

  const stripeMock = await startStripeMock();
  log(`stripe-mock ${stripeMock.version} on port ${stripeMock.port}`);

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
  const compiled = await programBuild;
  log(`program compiled in ${compiled.ms} ms`);
  project.provide('programBuild', compiled.dir);

  return async () => {
    await stopChild(stripeMock.child);
    await embedded?.stop();
    rmSync(tmp, { recursive: true, force: true });
    rmSync(compiled.dir, { recursive: true, force: true });
  };
}

/**
 * Compiles src/ and webhooks/ file by file (no bundling: the same modules, the same import graph),
 * once per run, for the processes tests spawn: `node --import tsx` would transpile the whole program
 * again in every one of them. Type checking is `npm run typecheck`'s job. The output sits inside the
 * checkout (under node_modules/.cache) so that packages resolve and fromRoot() finds the root.
 */
async function compileProgram(): Promise<{ dir: string; ms: number }> {
  const started = Date.now();
  const cache = fromRoot('node_modules/.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(path.join(cache, 'test-program-'));
  const sources = (folder: string): string[] =>
    readdirSync(fromRoot(folder), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
      .map((entry) => path.join(entry.parentPath, entry.name));
  await build({
    entryPoints: [...sources('src'), ...sources('webhooks')],
    absWorkingDir: fromRoot(),
    outbase: fromRoot(),
    outdir: dir,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    bundle: false,
    logLevel: 'error',
  });
  return { dir, ms: Date.now() - started };
}
