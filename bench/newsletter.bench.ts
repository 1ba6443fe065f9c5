import { newsletterModels } from '../src/newsletters/newsletter.model.js';
import { benchDatabase, inParallel, saveResult, startBenchApp, timed } from './support.js';

// Newsletter sign-ups through the real HTTP stack (validation, rate limit, subscription records,
// consent records, confirmation token and email) against plain inserts of as many documents.

const SIGNUPS = 1_000;
const CONCURRENCY = 16;

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
  const pending = await newsletterModels(database.db).Subscription.countDocuments({ status: 'pending' });
  server.close();
  await database.close();
  if (accepted !== SIGNUPS || pending !== SIGNUPS)
    throw new Error(`sign-ups lost: accepted ${accepted}, stored ${pending}`);

  const perSecond = (ms: number) => Math.round((SIGNUPS / ms) * 1000);
  const result = {
    database: database.server,
    signups: SIGNUPS,
    concurrency: CONCURRENCY,
    signupsPerSecond: perSecond(signups.ms),
    plainInsertsPerSecond: perSecond(inserts.ms),
    ratio: Math.round((inserts.ms / signups.ms) * 1000) / 1000,
  };
  saveResult('newsletter', result);
  return result;
}
