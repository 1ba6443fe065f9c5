import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import mongoose from 'mongoose';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startEmbeddedDatabase } from '../../src/infra/embedded-db.js';
import { spawnScript, spawnServer } from '../support/server-process.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { databaseUri } from '../support/test-app.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'lifecycle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A request whose client sends its body slowly: in flight until `finish` sends the rest. */
function slowRequest(port: number) {
  const body = JSON.stringify({ note: 'x'.repeat(200) });
  const request = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/slow-upload',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.on('response', (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    request.on('error', reject);
  });
  request.write(body.slice(0, 50));
  return {
    finish() {
      request.end(body.slice(50));
      return response;
    },
  };
}

/**
 * A module preloaded into a process that, when the process gets SIGUSR2, rejects a promise nobody
 * handles, or throws where nobody catches (`exception`).
 */
function plantedRejection(kind: 'rejection' | 'exception' = 'rejection'): string {
  const file = path.join(tmp, `planted-${kind}.mjs`);
  const failure =
    kind === 'rejection'
      ? "Promise.reject(new Error('planted failure'));"
      : "setImmediate(() => { throw new Error('planted failure'); });";
  writeFileSync(file, `process.on('SIGUSR2', () => { ${failure} });\n`);
  return `--import=${pathToFileURL(file).href}`;
}

describe('graceful shutdown', () => {
  it('when SIGTERM arrives during a slow request, then that request finishes, new ones are refused, and the exit code is 0', async () => {
    const port = await freePort();
    const uri = databaseUri('lifecycle');
    const server = spawnServer({ MONGODB_URI: uri, PORT: String(port), LOG_LEVEL: 'info' });
    await server.waitForLog('"listening"');

    const slow = slowRequest(port);
    await new Promise((r) => setTimeout(r, 200));

    server.child.kill('SIGTERM');
    await server.waitForLog('shutting down');
    const refused = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => 'answered',
      () => 'refused',
    );
    expect(refused).toBe('refused');
    expect(server.child.exitCode).toBeNull();

    const finished = await slow.finish();
    expect(finished.status).toBe(404);
    expect(JSON.parse(finished.body).error.code).toBe('not_found');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"stopped"');
  });
});

describe('starting before the database', () => {
  it('when the database cannot be reached at start, then the process says so, waits, and serves once it can', async () => {
    const target = new URL(databaseUri('lifecycle-late'));
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    proxy.cut();
    target.port = String(proxy.port);
    const port = await freePort();
    const server = spawnServer({
      MONGODB_URI: target.toString(),
      MONGODB_TIMEOUT_MS: '1000',
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    try {
      await server.waitForLog('database not reachable yet');
      expect(server.child.exitCode).toBeNull();
      proxy.restore();
      await server.waitForLog('"listening"', 30_000);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
      await proxy.close();
    }
  }, 60_000);
});

describe('a crash', () => {
  for (const [kind, what] of [
    ['rejection', 'unhandled rejection'],
    ['exception', 'uncaught exception'],
  ] as const)
    it(`when there is an ${what}, then it is logged as one JSON line, the request in flight still gets its answer, and the exit code is 1`, async () => {
      const port = await freePort();
      const server = spawnServer({
        MONGODB_URI: databaseUri('lifecycle-crash'),
        PORT: String(port),
        LOG_LEVEL: 'info',
        NODE_OPTIONS: plantedRejection(kind),
      });
      await server.waitForLog('"listening"');
      const slow = slowRequest(port);
      await new Promise((r) => setTimeout(r, 200));

      server.child.kill('SIGUSR2');
      await server.waitForLog('shutting down');
      const fatal = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map(
          (line) =>
            JSON.parse(line) as { level: string; msg: string; err?: { message: string; stack: string } },
        )
        .find((line) => line.level === 'fatal');
      expect(fatal?.msg).toBe(`${what}: stopping`);
      expect(fatal?.err?.message).toBe('planted failure');
      expect(fatal?.err?.stack).toContain(`planted-${kind}.mjs`);
      expect(server.output()).toContain(`"reason":"${what}"`);

      const finished = await slow.finish();
      expect(finished.status).toBe(404);
      expect(await server.exited).toBe(1);
      expect(server.output()).toContain('"stopped"');
    });

  it('when a worker has an unhandled rejection, then it logs it, stops its work and exits 1', async () => {
    const worker = spawnScript('src/worker.ts', {
      NODE_ENV: 'test',
      MONGODB_URI: databaseUri('lifecycle-crash-worker'),
      LOG_LEVEL: 'info',
      NODE_OPTIONS: plantedRejection(),
    });
    await worker.waitForLog('email worker started');
    worker.child.kill('SIGUSR2');
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toMatch(/"level":"fatal".*"msg":"unhandled rejection: stopping"/);
    expect(worker.output()).toContain('"email worker stopped"');
  });
});

const mongodOnPath = (process.env.PATH ?? '')
  .split(path.delimiter)
  .some((d) => d && existsSync(path.join(d, 'mongod')));

describe('embedded database', () => {
  it('when it is stopped and started again on the same folder, then the data is still there', async () => {
    const dataDir = path.join(tmp, 'embedded');
    const first = await startEmbeddedDatabase({ dataDir, download: false });
    const a = await mongoose.createConnection(first.uri).asPromise();
    await a.collection('members').insertOne({ email: 'kept@example.com' });
    await a.close();
    await first.stop();

    const second = await startEmbeddedDatabase({ dataDir, download: false });
    const b = await mongoose.createConnection(second.uri).asPromise();
    expect(await b.collection('members').findOne({}, { projection: { _id: 0 } })).toEqual({
      email: 'kept@example.com',
    });
    await b.close();
    await second.stop();
  });

  it.skipIf(mongodOnPath)(
    'when no mongod is on PATH and the download cannot be had, then it says so and FerretDB runs instead',
    async () => {
      // The download mirror is a closed port on this machine: it fails as fast as no internet does,
      // without a request leaving the machine.
      const closed = await freePort();
      const saved = { mirror: process.env.MONGOMS_DOWNLOAD_MIRROR, dir: process.env.MONGOMS_DOWNLOAD_DIR };
      process.env.MONGOMS_DOWNLOAD_MIRROR = `http://127.0.0.1:${closed}`;
      process.env.MONGOMS_DOWNLOAD_DIR = path.join(tmp, 'mongodb-binaries');
      const lines: string[] = [];
      const started = Date.now();
      try {
        const db = await startEmbeddedDatabase({
          dataDir: path.join(tmp, 'fallback'),
          log: (line) => lines.push(line),
          downloadTimeoutMs: 10_000,
        });
        await db.stop();
        expect(db.kind).toBe('ferretdb');
        expect(lines.join('\n')).toMatch(/could not download MongoDB \(.+\); using FerretDB instead/);
        expect(Date.now() - started).toBeLessThan(20_000);
      } finally {
        for (const [key, value] of [
          ['MONGOMS_DOWNLOAD_MIRROR', saved.mirror],
          ['MONGOMS_DOWNLOAD_DIR', saved.dir],
        ] as const) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
    },
  );
});
