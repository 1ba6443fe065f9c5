import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A local stand-in for SendGrid's v3 API: records every request exactly as it arrived and answers
// what the test scripted (202 by default), so tests assert on the real payloads we send.

export interface CapturedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: the raw v3 payload, asserted on field by field
  body: any;
  status: number | 'dropped';
  at: number;
}

export type ScriptedResponse =
  | { status: number; headers?: Record<string, string>; body?: unknown }
  | { drop: true }
  /** Holds the request until the promise settles, then answers `after` (by default: drops it). */
  | {
      holdUntil: Promise<void>;
      after?: { status: number; headers?: Record<string, string>; body?: unknown };
    };

export async function startSendgridCapture() {
  const requests: CapturedRequest[] = [];
  const script: ScriptedResponse[] = [];
  const byPath = new Map<string, ScriptedResponse>();
  let fallback: ScriptedResponse = { status: 202 };
  let messageSeq = 0;

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', async () => {
      const entry: CapturedRequest = {
        path: req.url ?? '',
        headers: req.headers,
        body: raw ? JSON.parse(raw) : undefined,
        status: 0,
        at: Date.now(),
      };
      requests.push(entry);
      let response = script.shift() ?? byPath.get(entry.path.split('?')[0]!) ?? fallback;
      if ('holdUntil' in response) {
        await response.holdUntil;
        response = response.after ?? { drop: true };
      }
      if ('drop' in response) {
        entry.status = 'dropped';
        req.socket.destroy();
        return;
      }
      entry.status = response.status;
      const headers: Record<string, string> = { ...response.headers };
      if (response.status === 202) headers['x-message-id'] = `msg-${++messageSeq}`;
      res.writeHead(response.status, { 'content-type': 'application/json', ...headers });
      res.end(response.body === undefined ? '' : JSON.stringify(response.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    /** Mail SendGrid would have accepted (answered 202). */
    accepted: () => requests.filter((r) => r.path === '/v3/mail/send' && r.status === 202),
    respondNext: (...responses: ScriptedResponse[]) => script.push(...responses),
    /** The answer for one path (after any scripted ones), e.g. a search endpoint's JSON. */
    respondTo: (path: string, response: ScriptedResponse) => {
      byPath.set(path, response);
    },
    respondAlways: (response: ScriptedResponse) => {
      fallback = response;
    },
    reset: () => {
      requests.length = 0;
      script.length = 0;
      byPath.clear();
      fallback = { status: 202 };
      messageSeq = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type SendgridCapture = Awaited<ReturnType<typeof startSendgridCapture>>;
