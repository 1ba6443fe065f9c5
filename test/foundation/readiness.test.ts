import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { connectDatabase } from '../../src/infra/db.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let app: TestApp;

beforeAll(async () => {
  const server = new URL(inject('mongoUri'));
  proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port) });
  const db = await connectDatabase({
    uri: `mongodb://127.0.0.1:${proxy.port}/readiness?directConnection=true`,
    poolSize: 2,
    timeoutMs: 500,
  });
  app = await startTestApp({ db, config: testConfig({ MONGODB_TIMEOUT_MS: '500' }) });
});
afterAll(async () => {
  await app.close();
  await app.deps.db.close();
  await proxy.close();
});

async function readyStatus(): Promise<number> {
  return (await fetch(`${app.url}/readyz`)).status;
}

async function eventually(expected: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let status = await readyStatus();
  while (status !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    status = await readyStatus();
  }
  return status;
}

it('when the database goes away, then /readyz is 503 in the error format; when it is back, 200', async () => {
  expect(await readyStatus()).toBe(200);

  proxy.cut();
  expect(await eventually(503)).toBe(503);
  const down = await fetch(`${app.url}/readyz`);
  expect(await down.json()).toEqual({
    error: { code: 'not_ready', message: 'The database is not reachable.', requestId: expect.any(String) },
  });
  // Liveness does not depend on the database: the process is fine, it must not be restarted.
  expect((await fetch(`${app.url}/healthz`)).status).toBe(200);

  proxy.restore();
  expect(await eventually(200)).toBe(200);
});
