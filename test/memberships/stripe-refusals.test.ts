import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { createStripeClient } from '../../src/infra/stripe.js';
import { membershipModels } from '../../src/memberships/membership.model.js';
import { startTestApp, TEST_ENV, type TestApp } from '../support/test-app.js';

// Stripe answers, but refuses our request: a key it does not know, a key without the permission,
// a request it cannot do, or too many requests. None of that is the reader's doing: the reader is
// not told to sign in or to fix their input, and we log what Stripe said.

let app: TestApp;
let stripe: http.Server;
let answer = {
  status: 401,
  type: 'invalid_request_error',
  message: 'Invalid API Key provided: sk_test_****1234',
};
const logs: string[] = [];

beforeAll(async () => {
  stripe = http.createServer((req, res) => {
    req.resume();
    res.writeHead(answer.status, { 'content-type': 'application/json', 'request-id': 'req_refused' });
    res.end(JSON.stringify({ error: { type: answer.type, message: answer.message } }));
  });
  await new Promise<void>((resolve) => stripe.listen(0, '127.0.0.1', resolve));
  const { port } = stripe.address() as AddressInfo;
  app = await startTestApp({
    deps: {
      stripe: createStripeClient(
        TEST_ENV.STRIPE_SECRET_KEY,
        { host: '127.0.0.1', port, protocol: 'http' },
        1_000,
      ),
      logger: createLogger({
        level: 'info',
        destination: new Writable({
          write(chunk, _encoding, done) {
            logs.push(String(chunk));
            done();
          },
        }),
      }),
    },
  });
});
afterAll(async () => {
  await app.close();
  await new Promise((resolve) => stripe.close(resolve));
});
beforeEach(() => {
  logs.length = 0;
});

const checkout = (headers: Record<string, string> = {}) =>
  fetch(`${app.url}/memberships/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'eur',
      email: 'reader@example.com',
    }),
  });

describe('when Stripe refuses our request', () => {
  for (const refusal of [
    { status: 401, type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****1234' },
    { status: 403, type: 'invalid_request_error', message: 'The provided key does not have access.' },
    { status: 400, type: 'invalid_request_error', message: 'No such customer: cus_gone' },
  ]) {
    it(`with ${refusal.status}, then checkout answers 500 without Stripe's words, logs them, and stores nothing`, async () => {
      answer = refusal;
      const res = await checkout();
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('internal_error');
      expect(JSON.stringify(body)).not.toContain(refusal.message);
      const logged = logs.map((line) => JSON.parse(line) as { level: string; err?: { message?: string } });
      expect(logged).toContainEqual(
        expect.objectContaining({
          level: 'error',
          err: expect.objectContaining({ message: refusal.message }),
        }),
      );
      expect(await membershipModels(app.deps.db).Member.countDocuments()).toBe(0);
    });
  }

  it('because the client reused its Idempotency-Key for another request, then checkout answers 409 idempotency_key_reused', async () => {
    answer = {
      status: 400,
      type: 'idempotency_error',
      message:
        'Keys for idempotent requests can only be used with the same parameters they were first used with.',
    };
    const res = await checkout({ 'idempotency-key': 'reader-key-0001' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
  });

  it('with 429, then checkout answers 503 payments_unavailable with Retry-After', async () => {
    answer = { status: 429, type: 'rate_limit_error', message: 'Too many requests.' };
    const res = await checkout();
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payments_unavailable');
    expect(res.headers.get('retry-after')).not.toBeNull();
  });
});
