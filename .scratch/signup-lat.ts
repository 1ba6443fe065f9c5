import { benchDatabase, inParallel, startBenchApp } from '../bench/support.js';
import { TEST_ENV } from '../test/support/test-app.js';

const database = await benchDatabase('signup');
const { url, server } = await startBenchApp(database.db, { ...TEST_ENV, NEWSLETTER_SIGNUPS_PER_IP: '1000000', EMAIL_WORKER: 'off' });
const t0 = Date.now();
const rows: { i: number; start: number; ms: number }[] = [];
await inParallel(400, 4, async (i) => {
  const start = performance.now();
  const res = await fetch(`${url}/newsletters/subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `n${i}@example.com`, lists: ['editors-picks'] }) });
  await res.arrayBuffer();
  rows.push({ i, start: Math.round(start), ms: Math.round(performance.now() - start) });
});
const sorted = [...rows].sort((a, b) => a.ms - b.ms);
const at = (q: number) => sorted[Math.floor(q * sorted.length)]!.ms;
console.log('p50', at(0.5), 'p90', at(0.9), 'p99', at(0.99), 'total s', (Date.now() - t0) / 1000);
console.log('slowest', sorted.slice(-12).map((r) => `${r.i}:${r.ms}`).join(' '));
server.close(); await database.close(); process.exit(0);
