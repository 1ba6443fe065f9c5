import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { expect, it } from 'vitest';
import { rawHeader } from '../../src/http/request-context.js';

/** Sends raw header lines (repeats and odd casing included) and returns what the server saw. */
async function received(lines: string[]): Promise<IncomingMessage> {
  let seen: IncomingMessage | undefined;
  const server = http.createServer((req, res) => {
    seen = req;
    res.writeHead(204, { Connection: 'close' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(`GET / HTTP/1.1\r\nHost: x\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`),
    );
    socket
      .on('data', () => {})
      .on('end', resolve)
      .on('error', reject);
  });
  server.close();
  return seen!;
}

it('when a request repeats a header in any casing, then the raw read gives what req.headers gives', async () => {
  const req = await received([
    'If-None-Match: "a"',
    'X-Request-Id: proxy-1234-abcd',
    'if-none-match: W/"b"',
    'X-REQUEST-ID: second-id-5678',
  ]);
  for (const name of ['if-none-match', 'x-request-id', 'x-absent'])
    expect(rawHeader(req, name)).toBe(req.headers[name]);
  expect(rawHeader(req, 'if-none-match')).toBe('"a", W/"b"');
});
