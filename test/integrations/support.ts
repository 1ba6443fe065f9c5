import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

// A receiving server for outgoing webhooks, as a newsroom's CRM or Slack relay would run one: it
// verifies each delivery with the standardwebhooks library, and can be killed, brought back on
// the same port, made to drop the connection after reading a delivery, fail, or redirect.

export interface Received {
  webhookId: string;
  timestamp: string;
  signature: string;
  body: string;
  /** Which of the receiver's known secrets verified it (the library's own verifier). */
  verifiedWith: string[];
}

export type ReceiverMode = 'ok' | 'drop' | 'fail' | 'redirect';

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Other paths hit (a redirect's target must never be). */
  strayHits: string[];
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
    if (receiver.mode === 'redirect')
      return res.writeHead(302, { location: `http://127.0.0.1:${receiver.port}/internal-admin` }).end();
    res.writeHead(204).end();
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
  attempts: { ok: boolean; status: number | null; error: string | null; durationMs: number }[];
}
