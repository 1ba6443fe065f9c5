import { benchDatabase, deliverFromOtherProcess, startBenchApp } from '../bench/support.js';
import { checkoutSession, purchase, serialize, signedHeaders, stripeEvent, T0 } from '../test/support/stripe-events.js';
import { TEST_ENV } from '../test/support/test-app.js';

const database = await benchDatabase('prof');
const { url, server } = await startBenchApp(database.db, { ...TEST_ENV, TIME_ZONE: 'UTC', EMAIL_WORKER: 'off' });
const mk = (n: number) => Array.from({ length: n }, (_, i) => serialize(stripeEvent('checkout.session.completed', checkoutSession(purchase()), T0 + i))).map((body) => ({ body, headers: signedHeaders(body) }));
await deliverFromOtherProcess(`${url}/webhooks/stripe`, mk(200), 4);
const r = await deliverFromOtherProcess(`${url}/webhooks/stripe`, mk(3000), 4);
console.log('ingest/s', Math.round((r.accepted / r.ms) * 1000), r);
const plain = database.db.collection('plain');
const docs = mk(3000).map((d) => JSON.parse(d.body));
const t = performance.now();
let next = 0;
await Promise.all(Array.from({ length: 4 }, async () => { while (next < docs.length) { const d = docs[next++]; await plain.insertOne({ ...d, _id: `p${next}` }); } }));
console.log('plain/s', Math.round(3000 / (performance.now() - t) * 1000));
server.close();
await database.close();
process.exit(0);
