import { readFileSync } from 'node:fs';
import http from 'node:http';

// Stripe's side of a webhook benchmark, run as its own process (bench/support.ts `deliverFromOtherProcess`):
// Stripe is another machine, so its sending must not take the server's event loop. Reads
// {url, concurrency, warmUp, deliveries: [{body, headers}]} from the file named on the command
// line. The first `warmUp` deliveries are sent untimed: they compile this process's HTTP client, which
// is new with every run. Then each other delivery is sent until it is answered 200 (five rounds at most,
// as Stripe's retries would), and it prints {accepted, refused, ms} for those as JSON.

const { url, concurrency, warmUp, deliveries } = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as {
  url: string;
  concurrency: number;
  warmUp: number;
  deliveries: { body: string; headers: Record<string, string> }[];
};

// node:http with kept-alive connections rather than fetch: on a two-core machine the sender's own
// CPU is taken from the server it measures, and fetch costs several times more per request.
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function post(delivery: { body: string; headers: Record<string, string> }): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { ...delivery.headers, 'content-length': String(Buffer.byteLength(delivery.body)) };
    const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume(); // the answer's body is not needed, but must be read to reuse the connection
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(delivery.body);
  });
}

async function send(indexes: number[]): Promise<{ accepted: number; refused: number[] }> {
  let accepted = 0;
  let pending = indexes;
  for (let round = 0; pending.length > 0 && round < 5; round++) {
    const batch = pending;
    pending = [];
    let next = 0;
    const lane = async () => {
      while (next < batch.length) {
        const i = batch[next++]!;
        if ((await post(deliveries[i]!)) === 200) accepted++;
        else pending.push(i);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  }
  return { accepted, refused: pending };
}

const indexes = deliveries.map((_, i) => i);
await send(indexes.slice(0, warmUp));
const started = performance.now();
const { accepted, refused } = await send(indexes.slice(warmUp));
console.log(JSON.stringify({ accepted, refused: refused.length, ms: performance.now() - started }));
agent.destroy();
