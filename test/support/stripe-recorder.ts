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

export async function startStripeRecorder(options: { answer?: PlantedAnswer } = {}) {
  const target = inject('stripeMock');
  const requests: RecordedStripeRequest[] = [];
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
          answer.pipe(res);
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
