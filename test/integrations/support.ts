import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { PRODUCTION_ENV } from '../support/production-env.js';

// A receiving server for outgoing webhooks, as a newsroom's CRM or Slack relay would run one: it
// verifies each delivery with the standardwebhooks library, and can be killed, brought back on
// the same port, made to drop the connection after reading a delivery, fail, redirect, never
// answer (`hang`), or answer 200 with a body of FLOOD_BYTES (`flood`).

/** What a `flood` answer offers: 50 MB, streamed, far more than a sender should ever read. */
export const FLOOD_BYTES = 50 * 1024 * 1024;

/** One `flood` answer: how much of it was handed to the connection, and whether all of it was. */
export interface Flood {
  sent: number;
  complete: boolean;
}

export interface Received {
  webhookId: string;
  timestamp: string;
  signature: string;
  body: string;
  /** Which of the receiver's known secrets verified it (the library's own verifier). */
  verifiedWith: string[];
}

export type ReceiverMode = 'ok' | 'drop' | 'fail' | 'redirect' | 'hang' | 'flood';

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Other paths hit (a redirect's target must never be). */
  strayHits: string[];
  floods: Flood[];
  secrets: string[];
  mode: ReceiverMode;
  kill(): Promise<void>;
  revive(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  let server: http.Server | undefined;
  const receiver: Receiver = {
    url: '',
    port: 0,
    received: [],
    strayHits: [],
    floods: [],
    secrets: [],
    mode: 'ok',
    async kill() {
      if (!server) return;
      const closing = server;
      server = undefined;
      closing.closeAllConnections();
      await new Promise((resolve) => closing.close(resolve));
    },
    revive: () => listen(receiver.port),
    close: () => receiver.kill(),
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.url !== '/hook') {
      receiver.strayHits.push(req.url ?? '');
      res.writeHead(200).end();
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(req.headers['webhook-id']),
      'webhook-timestamp': String(req.headers['webhook-timestamp']),
      'webhook-signature': String(req.headers['webhook-signature']),
    };
    receiver.received.push({
      webhookId: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      signature: headers['webhook-signature'],
      body,
      verifiedWith: receiver.secrets.filter((secret) => {
        try {
          new Webhook(secret).verify(body, headers);
          return true;
        } catch {
          return false;
        }
      }),
    });
    // Killed after the delivery arrived, before it could answer: the sender cannot know it landed.
    if (receiver.mode === 'drop') return req.socket.destroy();
    if (receiver.mode === 'fail') return res.writeHead(503).end('busy');
    // Took the delivery and holds the connection open without a word, until the sender gives up.
    if (receiver.mode === 'hang') return;
    if (receiver.mode === 'flood') return flood(res);
    if (receiver.mode === 'redirect')
      return res.writeHead(302, { location: `http://127.0.0.1:${receiver.port}/internal-admin` }).end();
    res.writeHead(204).end();
  }

  /** 200 and FLOOD_BYTES, written as fast as the connection takes them, until the sender hangs up. */
  async function flood(res: http.ServerResponse) {
    const record: Flood = { sent: 0, complete: false };
    receiver.floods.push(record);
    const chunk = Buffer.alloc(64 * 1024, 'x'); // one buffer written again and again: no 50 MB here
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(FLOOD_BYTES) });
    while (!closed && record.sent < FLOOD_BYTES) {
      const flowing = res.write(chunk);
      record.sent += chunk.length;
      if (!flowing)
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go);
            res.off('close', go);
            resolve();
          };
          res.on('drain', go);
          res.on('close', go);
        });
    }
    if (!closed) {
      res.end();
      record.complete = true;
    }
  }

  async function listen(port: number) {
    server = http.createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    receiver.port = (server.address() as AddressInfo).port;
    receiver.url = `http://127.0.0.1:${receiver.port}/hook`;
  }
  await listen(0);
  return receiver;
}

/** What the staff API answers, as far as these tests read it. */
export interface AdminAnswer {
  error?: { code: string };
  secret?: string;
  endpoint?: { id: string; enabled: boolean; disabledReason: string | null; secrets: unknown[] };
  deliveries?: LoggedDelivery[];
}

export interface LoggedDelivery {
  eventType: string;
  status: string;
  nextAttemptAt: string | null;
  attempts: { ok: boolean; status: number | null; error: string | null; durationMs: number }[];
}

/** A production configuration's environment: private targets refused. */
export const PRODUCTION = PRODUCTION_ENV;
