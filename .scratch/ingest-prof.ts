import { benchDatabase, inParallel, startBenchApp, timed } from '../bench/support.js';
import { checkoutSession, purchase, serialize, signedHeaders, stripeEvent, T0 } from '../test/support/stripe-events.js';
import { TEST_ENV } from '../test/support/test-app.js';

const database = await benchDatabase('prof');
const { url, server } = await startBenchApp(database.db, { ...TEST_ENV, TIME_ZONE: 'UTC', EMAIL_WORKER: 'off' });
const bodies = Array.from({ length: 3000 }, (_, i) => serialize(stripeEvent('checkout.session.completed', checkoutSession(purchase()), T0 + i)));
const headers = bodies.map((b) => signedHeaders(b));
const { ms } = await timed(() =>
  inParallel(bodies.length, 16, async (i) => {
    const res = await fetch(`${url}/webhooks/stripe`, { method: 'POST', headers: headers[i]!, body: bodies[i]! });
    await res.arrayBuffer();
  }),
);
console.log('ingest/s', Math.round((bodies.length / ms) * 1000));
server.close();
await database.close();
process.exit(0);
