import type { Connection } from 'mongoose';
import { Webhook } from 'standardwebhooks';
import { enqueueEmail } from '../email/outbox.service.js';
import type { Clock } from '../infra/clock.js';
import { insertUnlessPresent, isDuplicateKey } from '../infra/db.js';
import { createJobQueue, JobFailure, type JobQueue } from '../infra/jobs/queue.js';
import type { Logger } from '../infra/logger.js';
import { staffModels } from '../staff/staff.model.js';
import { saveEndpoint, signingSecrets } from './endpoints.service.js';
import { type OutboundOptions, outboundAgents, postBounded } from './outbound-post.js';
import { type Lookup, UnsafeTargetError } from './safe-target.js';
import { WEBHOOK_QUEUE, type WebhookDelivery, type WebhookEndpoint, webhookModels } from './webhook.model.js';

// Delivering one message to one endpoint, on the one job runner (ADR 0007): signed with every
// secret that signs now (Standard Webhooks: several signatures, space-separated), posted with a
// deadline and a bounded read, each attempt logged. A failure is retried with back-off for about
// three days; an endpoint that has failed for DISABLE_AFTER_MS without one success is disabled and
// the admins are emailed. README.md beside this file.

const HOUR = 3_600_000;
/** Retries over about three days: 17 attempts, waits doubling from a minute up to 12 hours (README.md). */
export const RETRY = { maxAttempts: 17, retryBaseMs: 60_000, retryMaxMs: 12 * HOUR };
/** An endpoint failing this long, with no success in between, is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * HOUR;
const TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 4_096;
/** How much of the receiver's answer the log keeps. */
const LOGGED_RESPONSE_CHARS = 500;

export interface DeliveryDeps {
  db: Connection;
  clock: Clock;
  logger: Logger;
  allowPrivateTargets: boolean;
  leaseMs: number;
  lookup?: Lookup;
  /** Each attempt's deadline: TIMEOUT_MS (10 s) unless given (tests), never over a third of the lease. */
  timeoutMs?: number;
  random?: () => number;
}

/** The queue, and the deadline each of its attempts gets (10 s unless the lease is short). */
export type WebhookQueue = JobQueue & { readonly attemptTimeoutMs: number };

export function createWebhookQueue(deps: DeliveryDeps): WebhookQueue {
  const { db, clock } = deps;
  const logger = deps.logger.child({ component: 'webhooks' });
  const { Endpoint, Delivery, Attempt, Health } = webhookModels(db);
  const outbound: OutboundOptions = {
    allowPrivate: deps.allowPrivateTargets,
    // Inside the lease, so no other worker takes the job while this attempt still runs.
    timeoutMs: Math.min(deps.timeoutMs ?? TIMEOUT_MS, Math.floor(deps.leaseMs / 3)),
    maxResponseBytes: MAX_RESPONSE_BYTES,
    lookup: deps.lookup,
  };
  const agents = outboundAgents(outbound);

  async function recordSuccess(endpointId: string, at: Date) {
    try {
      await Health.updateOne({ _id: `${endpointId}:ok` }, { $max: { at } }, { upsert: true });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // a racing success made it: either time will do
    }
  }

  /** Since when the endpoint fails: the first failure after its last success (one insert decides). */
  async function failingSince(endpointId: string, at: Date): Promise<Date> {
    const ok = await Health.findById(`${endpointId}:ok`).lean();
    const key = `${endpointId}:failing:${ok?.at.getTime() ?? 0}`;
    await insertUnlessPresent(Health.collection, { _id: key, at });
    return (await Health.findById(key).lean())?.at ?? at;
  }

  async function disable(endpoint: WebhookEndpoint, since: Date, lastError: string) {
    const now = clock.now();
    const reason = `failed for ${Math.round((now.getTime() - since.getTime()) / HOUR)} hours without a success: ${lastError}`;
    // A new version of the endpoint, so an admin's form loaded before it is refused, not saved over it.
    await saveEndpoint({ db, clock }, endpoint._id, undefined, () => ({
      set: { enabled: false, disabledAt: now, disabledReason: reason },
    }));
    logger.warn({ endpointId: endpoint._id, since }, 'webhook endpoint disabled after failing for days');
    const admins = await staffModels(db)
      .StaffUser.find({ role: 'admin', disabled: false })
      .select({ email: 1, name: 1 })
      .lean();
    for (const admin of admins)
      await enqueueEmail(db, clock, {
        template: 'webhook-endpoint-disabled',
        to: { email: admin.email, name: admin.name },
        data: {
          name: admin.name,
          url: endpoint.url,
          endpointId: endpoint._id,
          failingSince: since.toISOString(),
          lastError: lastError.slice(0, 300),
        },
        idempotencyKey: `webhook-disabled:${endpoint._id}:${since.getTime()}:${admin._id}`,
      });
  }

  async function attempt(
    job: WebhookDelivery,
    endpoint: WebhookEndpoint,
  ): Promise<{ durationMs: number; status?: number; body?: string; error?: Error }> {
    const secrets = signingSecrets(endpoint, clock.now());
    // The receiver checks the timestamp against its own clock (replay protection): the real time
    // of sending, not the service's business clock.
    const sentAt = new Date();
    const signature = secrets
      .map((secret) => new Webhook(secret).sign(job.webhookId, sentAt, job.body))
      .join(' ');
    // Slack's incoming webhooks take a plain JSON post; its URL is the secret.
    const signed: Record<string, string> =
      endpoint.kind === 'slack'
        ? {}
        : {
            'webhook-id': job.webhookId,
            'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
            'webhook-signature': signature,
          };
    const started = performance.now();
    try {
      const answer = await postBounded(
        agents,
        outbound,
        endpoint.url,
        { 'content-type': 'application/json', 'user-agent': 'membership-drive-webhooks/1', ...signed },
        job.body,
      );
      return { ...answer, durationMs: Math.round(performance.now() - started) };
    } catch (error) {
      return { error: error as Error, durationMs: Math.round(performance.now() - started) };
    }
  }

  async function handle(job: WebhookDelivery): Promise<Record<string, unknown>> {
    const endpoint = await Endpoint.findById(job.endpointId).lean<WebhookEndpoint>();
    if (!endpoint) throw new JobFailure('the endpoint was deleted', false);
    if (!endpoint.enabled) throw new JobFailure('the endpoint is disabled', false);
    const result = await attempt(job, endpoint);
    const at = clock.now();
    const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
    const refused = result.error instanceof UnsafeTargetError;
    const error = result.error
      ? `${refused ? 'refused: ' : ''}${result.error.message}`
      : ok
        ? undefined
        : // A redirect is not followed (it could lead into our network): it is a failed delivery.
          `the receiver answered ${result.status}`;
    await insertUnlessPresent(Attempt.collection, {
      _id: `${job._id}:${job.attempts}`,
      deliveryId: String(job._id),
      endpointId: job.endpointId,
      webhookId: job.webhookId,
      attempt: job.attempts,
      at,
      durationMs: result.durationMs,
      ok,
      ...(result.status !== undefined
        ? { status: result.status, response: (result.body ?? '').slice(0, LOGGED_RESPONSE_CHARS) }
        : {}),
      ...(error ? { error } : {}),
    });
    if (ok) {
      await recordSuccess(endpoint._id, at);
      return { status: 'delivered', deliveredAt: at, lastStatus: result.status };
    }
    const since = await failingSince(endpoint._id, at);
    if (at.getTime() - since.getTime() >= DISABLE_AFTER_MS) await disable(endpoint, since, error!);
    logger.warn(
      { deliveryId: String(job._id), endpointId: endpoint._id, attempts: job.attempts, error },
      'webhook delivery failed',
    );
    // A refused address is a setting to change, not a blip: retrying would only repeat it.
    throw new JobFailure(error!, !refused);
  }

  const queue = createJobQueue<WebhookDelivery>({
    name: WEBHOOK_QUEUE,
    db,
    model: Delivery,
    clock,
    logger: deps.logger,
    activeStatus: 'sending',
    leaseMs: deps.leaseMs,
    ...RETRY,
    random: deps.random,
    handle,
    onFailed(job, failure) {
      logger.error(
        { deliveryId: String(job._id), attempts: job.attempts, error: failure.message },
        'webhook delivery failed for good',
      );
    },
  });
  return Object.assign(queue, { attemptTimeoutMs: outbound.timeoutMs });
}
