import { readFileSync } from 'node:fs';

// Stripe's side of a webhook benchmark, run as its own process (bench/support.ts `deliverFromOtherProcess`):
// Stripe is another machine, so its sending must not take the server's event loop. Reads
// {url, concurrency, deliveries: [{body, headers}]} from the file named on the command line, sends
// each delivery until it is answered 200 (five rounds at most, as Stripe's retries would), and
// prints {accepted, refused, ms} as JSON.

const { url, concurrency, deliveries } = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as {
  url: string;
  concurrency: number;
  deliveries: { body: string; headers: Record<string, string> }[];
};

let accepted = 0;
let pending = deliveries.map((_, i) => i);
const started = performance.now();
for (let round = 0; pending.length > 0 && round < 5; round++) {
  const batch = pending;
  pending = [];
  let next = 0;
  const lane = async () => {
    while (next < batch.length) {
      const i = batch[next++]!;
      const res = await fetch(url, {
        method: 'POST',
        headers: deliveries[i]!.headers,
        body: deliveries[i]!.body,
      });
      await res.arrayBuffer();
      if (res.status === 200) accepted++;
      else pending.push(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}
console.log(JSON.stringify({ accepted, refused: pending.length, ms: performance.now() - started }));
