import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inject } from 'vitest';

// Sits between our Stripe client and stripe-mock: forwards every request unchanged and records
// what Stripe received (method, path, form parameters, idempotency key) and how it answered.

export interface RecordedStripeRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  idempotencyKey?: string;
  status: number;
  /** Answered from an earlier request with the same idempotency key (`idempotency: true`): no new object. */
  replayed?: boolean;
}

/**
 * A planted answer, for what stateless stripe-mock cannot say (an object that exists or is missing,
 * a version its spec does not know yet); undefined forwards the request to stripe-mock.
 */
export type PlantedAnswer = (request: {
  method: string;
  path: string;
  params: Record<string, string>;
}) => { status: number; body: unknown } | undefined;

/**
 * Stripe's documented idempotency, which stateless stripe-mock lacks: the first answer to a key is
 * kept; a POST with the same key and the same parameters gets that answer again (with
 * `Idempotent-Replayed: true`), and with other parameters a 400 `idempotency_error`.
 */
function idempotencyOf(
  seen: Map<string, { body: string; status: number; answer: string }>,
  key: string | undefined,
  body: string,
) {
  return {
    replay: () => (key ? seen.get(key) : undefined),
    keep: (status: number, answer: string) => {
      if (key && !seen.has(key)) seen.set(key, { body, status, answer });
    },
  };
}

export async function startStripeRecorder(options: { answer?: PlantedAnswer; idempotency?: boolean } = {}) {
  const target = inject('stripeMock');
  const requests: RecordedStripeRequest[] = [];
  const seenKeys = new Map<string, { body: string; status: number; answer: string }>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const method = req.method ?? '';
      const path = (req.url ?? '').split('?')[0]!;
      const params = Object.fromEntries(
        new URLSearchParams(method === 'GET' ? (req.url ?? '').split('?')[1] : body),
      );
      const key = method === 'POST' ? (req.headers['idempotency-key'] as string | undefined) : undefined;
      const idempotency = idempotencyOf(seenKeys, options.idempotency ? key : undefined, body);
      const earlier = idempotency.replay();
      if (earlier) {
        const same = earlier.body === body;
        const status = same ? earlier.status : 400;
        requests.push({
          method,
          path,
          params,
          idempotencyKey: key,
          status,
          ...(same ? { replayed: true } : {}),
        });
        res.writeHead(status, {
          'content-type': 'application/json',
          ...(same ? { 'idempotent-replayed': 'true' } : {}),
        });
        res.end(
          same
            ? earlier.answer
            : JSON.stringify({
                error: {
                  type: 'idempotency_error',
                  message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
                },
              }),
        );
        return;
      }
      const planted = options.answer?.({ method, path, params });
      if (planted) {
        const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
        requests.push({ method, path, params, idempotencyKey, status: planted.status });
        res.writeHead(planted.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(planted.body));
        return;
      }
      const upstream = http.request(
        { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          requests.push({
            method,
            path,
            params,
            idempotencyKey: req.headers['idempotency-key'] as string | undefined,
            status: answer.statusCode ?? 0,
          });
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          let answered = '';
          answer.on('data', (chunk) => {
            answered += chunk;
            res.write(chunk);
          });
          answer.on('end', () => {
            idempotency.keep(answer.statusCode ?? 0, answered);
            res.end();
          });
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    connection: {
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      protocol: 'http' as const,
    },
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
