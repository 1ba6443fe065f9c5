import { randomBytes } from 'node:crypto';
import { benchDatabase, inParallel, timed } from '../bench/support.js';

const payload = JSON.parse(JSON.stringify({ id: 'cs_x', object: 'checkout.session', customer: 'cus_x', metadata: { app: 'membership-drive', kind: 'membership', plan: 'supporter' }, lines: Array.from({ length: 20 }, (_, i) => ({ i, text: 'x'.repeat(60) })) }));
const db = (await benchDatabase('ab')).db;
const variants: Record<string, (id: string) => Promise<unknown>> = {
  seq3: async (id) => {
    await db.collection('p').insertOne({ _id: id as never, object: payload });
    await db.collection('m').insertOne({ _id: id as never, queue: 'q', nextAttemptAt: new Date() });
    await db.collection('e').insertOne({ _id: id as never, type: 't', status: 'received' });
  },
  twoThenOne: async (id) => {
    await Promise.all([
      db.collection('p').insertOne({ _id: id as never, object: payload }),
      db.collection('m').insertOne({ _id: id as never, queue: 'q', nextAttemptAt: new Date() }),
    ]);
    await db.collection('e').insertOne({ _id: id as never, type: 't', status: 'received' });
  },
  allThree: (id) =>
    Promise.all([
      db.collection('p').insertOne({ _id: id as never, object: payload }),
      db.collection('m').insertOne({ _id: id as never, queue: 'q', nextAttemptAt: new Date() }),
      db.collection('e').insertOne({ _id: id as never, type: 't', status: 'received' }),
    ]),
  plain: (id) => db.collection('plain').insertOne({ _id: id as never, object: payload }),
};
for (const round of [1, 2]) {
  for (const concurrency of [4, 16]) {
    for (const [name, run] of Object.entries(variants)) {
      const n = 400;
      const { ms } = await timed(() => inParallel(n, concurrency, () => run(randomBytes(8).toString('hex'))));
      console.log(round, concurrency, name, Math.round((n / ms) * 1000), '/s');
    }
  }
}
process.exit(0);
