import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { stopChild } from '../../src/infra/embedded-db.js';
import { startStripeMock } from '../support/stripe-mock.js';

// Two suite runs on one machine each start a stripe-mock; neither may need a fixed port.

const started: Awaited<ReturnType<typeof startStripeMock>>[] = [];
let blocker: net.Server | undefined;
afterAll(async () => {
  await Promise.all(started.map((s) => stopChild(s.child)));
  await new Promise((r) => (blocker ? blocker.close(r) : r(undefined)));
});

describe('stripe-mock for the suite', () => {
  it("when stripe-mock's default HTTPS port 12112 is taken and two start at once, then both start and answer", async () => {
    // Take 12112 as another run's stripe-mock would (if something already holds it, all the better).
    blocker = net.createServer();
    await new Promise<void>((resolve) => {
      blocker!.once('error', () => resolve());
      blocker!.listen(12112, resolve);
    });
    started.push(...(await Promise.all([startStripeMock(), startStripeMock()])));
    expect(started[0]!.port).not.toBe(started[1]!.port);
    for (const { port } of started) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/customers/cus_123`, {
        headers: { authorization: 'Bearer sk_test_123' },
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { object: string }).object).toBe('customer');
    }
  });
});
