import { loadConfig } from '../src/config/config.js';
import { createRendererFromConfig } from '../src/email/email.setup.js';
import { enqueueEmail } from '../src/email/outbox.service.js';
import { createSendgridSender } from '../src/email/senders/sendgrid.sender.js';
import { systemClock } from '../src/infra/clock.js';
import { workerAgainstCapture } from '../test/support/email.js';
import { startSendgridCapture } from '../test/support/sendgrid-capture.js';
import { benchDatabase, inParallel, saveResult, timed } from './support.js';

// Outbox throughput against the local SendGrid capture server, and the same payloads sent
// directly (render + HTTP, no database) with the same concurrency, in the same run.

const EMAILS = 500;
const CONCURRENCY = 8;

export async function outboxBenchmark() {
  const database = await benchDatabase('outbox');
  const capture = await startSendgridCapture();
  const config = loadConfig({ NODE_ENV: 'test' });
  const renderer = createRendererFromConfig(config);
  const sender = createSendgridSender({ apiKey: 'SG.bench', baseUrl: capture.baseUrl, clock: systemClock });
  const data = (i: number) => ({
    name: `Reader ${i}`,
    planName: 'Monthly',
    accountUrl: `https://members.test/a/${i}`,
  });

  // Baseline: what sending costs without the outbox.
  const direct = await timed(() =>
    inParallel(EMAILS, CONCURRENCY, async (i) => {
      const rendered = renderer.render('member-welcome', 'en', data(i));
      await sender.send({
        jobId: `direct-${i}`,
        to: { email: `reader${i}@example.com` },
        from: config.email.from,
        ...rendered,
        headers: {},
        category: 'member-welcome',
      });
    }),
  );
  capture.reset();

  const enqueue = await timed(() =>
    inParallel(EMAILS, CONCURRENCY, (i) =>
      enqueueEmail(database.db, systemClock, {
        template: 'member-welcome',
        to: { email: `reader${i}@example.com` },
        data: data(i),
        idempotencyKey: `bench:${i}`,
      }),
    ),
  );
  const worker = workerAgainstCapture(database.db, capture, systemClock, { concurrency: CONCURRENCY });
  const drain = await timed(() => worker.drain());
  const accepted = capture.accepted();
  const unique = new Set(accepted.map((r) => r.body.custom_args.job_id)).size;

  await capture.close();
  await database.close();

  const perSecond = (ms: number) => Math.round((EMAILS / ms) * 1000 * 10) / 10;
  const result = {
    database: database.server,
    emails: EMAILS,
    concurrency: CONCURRENCY,
    directEmailsPerSecond: perSecond(direct.ms),
    enqueuePerSecond: perSecond(enqueue.ms),
    outboxEmailsPerSecond: perSecond(drain.ms),
    ratioOutboxToDirect: Math.round((direct.ms / drain.ms) * 1000) / 1000,
    sent: accepted.length,
    sentTwice: accepted.length - unique,
  };
  if (result.sent !== EMAILS || result.sentTwice !== 0)
    throw new Error(`outbox lost or duplicated mail: ${JSON.stringify(result)}`);
  saveResult('outbox', result);
  return result;
}
