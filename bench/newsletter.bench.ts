import { newsletterModels } from '../src/newsletters/newsletter.model.js';
import { benchDatabase, inParallel, saveResult, startBenchApp, timed } from './support.js';

// Newsletter sign-ups through the real HTTP stack (validation, rate limit, subscription records,
// consent records, confirmation token and email) against plain inserts of as many documents; then
// sign-up latency as the scale bench measures it (4 at a time), which is flat with the data's size,
// so this is the quick way to see it (issue 15: p99 <= 100 ms).

const SIGNUPS = 1_000;
const CONCURRENCY = 16;
const LATENCY_SIGNUPS = 300;
const LATENCY_CONCURRENCY = 4;

export async function newsletterBenchmark() {
  const database = await benchDatabase('newsletter');
  const { url: base, server } = await startBenchApp(database.db, { NEWSLETTER_SIGNUPS_PER_IP: '100000' });
  const url = `${base}/newsletters/subscriptions`;

  let accepted = 0;
  const signups = await timed(() =>
    inParallel(SIGNUPS, CONCURRENCY, async (i) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          email: `reader${i}@example.com`,
          lists: ['editors-picks'],
          sourcePage: 'https://news.example',
        }),
      });
      await res.arrayBuffer();
      if (res.status === 202) accepted++;
    }),
  );
  const plain = database.db.collection('plain_inserts');
  const inserts = await timed(() =>
    inParallel(SIGNUPS, CONCURRENCY, (i) =>
      plain.insertOne({
        _id: `editors-picks:plain${i}@example.com`,
        email: `plain${i}@example.com`,
        status: 'pending',
        requestedAt: new Date(),
      } as never),
    ),
  );
  const times: number[] = [];
  await inParallel(LATENCY_SIGNUPS, LATENCY_CONCURRENCY, async (i) => {
    const { ms, result: res } = await timed(() =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `latency${i}@example.com`, lists: ['editors-picks'] }),
      }),
    );
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`sign-up answered ${res.status}`);
    times.push(ms);
  });
  times.sort((a, b) => a - b);
  const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!);
  const pending = await newsletterModels(database.db).Subscription.countDocuments({ status: 'pending' });
  server.close();
  await database.close();
  if (accepted !== SIGNUPS || pending !== SIGNUPS + LATENCY_SIGNUPS)
    throw new Error(`sign-ups lost: accepted ${accepted}, stored ${pending}`);

  const perSecond = (ms: number) => Math.round((SIGNUPS / ms) * 1000);
  const result = {
    database: database.server,
    signups: SIGNUPS,
    concurrency: CONCURRENCY,
    signupsPerSecond: perSecond(signups.ms),
    plainInsertsPerSecond: perSecond(inserts.ms),
    ratio: Math.round((inserts.ms / signups.ms) * 1000) / 1000,
    latencyConcurrency: LATENCY_CONCURRENCY,
    latencyP50Ms: at(0.5),
    latencyP90Ms: at(0.9),
    latencyP99Ms: at(0.99),
  };
  saveResult('newsletter', result);
  return result;
}
