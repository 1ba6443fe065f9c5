import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { isPrivateAddress, type Lookup, safeLookup, UnsafeTargetError } from './safe-target.js';

// One POST to a receiver we do not control: it may never answer, answer forever, send a body of
// gigabytes, or redirect to our own network. So: one deadline for the whole exchange, at most
// `maxResponseBytes` of the answer read, no redirects followed (a 3xx is a failed delivery), and,
// unless private targets are allowed, every connection's address checked as it is made.

export interface PostResult {
  status: number;
  /** The start of the answer, at most `maxResponseBytes`, as text. */
  body: string;
}

export interface OutboundOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Name resolution (tests make a public-looking name resolve to 127.0.0.1). */
  lookup?: Lookup;
}

/** Agents that check each connection's address; one pair per process and setting. */
export function outboundAgents(options: Pick<OutboundOptions, 'allowPrivate' | 'lookup'>) {
  const lookup = options.allowPrivate ? options.lookup : safeLookup(options.lookup);
  // No keep-alive: a kept socket would skip the lookup, and its address may no longer be safe.
  return {
    http: new http.Agent({ keepAlive: false, ...(lookup ? { lookup: lookup as never } : {}) }),
    https: new https.Agent({ keepAlive: false, ...(lookup ? { lookup: lookup as never } : {}) }),
  };
}

export function postBounded(
  agents: ReturnType<typeof outboundAgents>,
  options: OutboundOptions,
  target: string,
  headers: Record<string, string>,
  body: string,
): Promise<PostResult> {
  const url = new URL(target);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  // A literal address makes no lookup, so the agent's check never runs: check it here.
  if (!options.allowPrivate && isIP(host) && isPrivateAddress(host))
    return Promise.reject(new UnsafeTargetError(host));
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, result?: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error) reject(error);
      else resolve(result!);
    };
    const request = (secure ? https : http).request(
      url,
      {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          response.destroy();
          finish(null, {
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).subarray(0, options.maxResponseBytes).toString('utf8'),
          });
        };
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= options.maxResponseBytes) done(); // the rest is never read
        });
        response.on('end', done);
        response.on('error', (error) => finish(error));
      },
    );
    const deadline = setTimeout(() => {
      const error = new Error(`no answer within ${options.timeoutMs} ms`);
      finish(error);
      request.destroy(error);
    }, options.timeoutMs);
    request.on('error', (error) => finish(error));
    request.end(body);
  });
}
