import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { AppError } from '../http/errors.js';
import { claimOnce } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { checkTargetUrl, type Lookup } from './safe-target.js';
import { SLACK_EVENT_TYPES } from './slack.js';
import { type EndpointSecret, type WebhookEndpoint, webhookModels } from './webhook.model.js';
import { WEBHOOK_EVENT_TYPES } from './webhook-events.js';

export type EndpointKind = 'standard' | 'slack';

/** The event types an endpoint of each kind may choose: Slack hears milestones and daily totals. */
export const EVENT_TYPES_OF: Record<EndpointKind, readonly string[]> = {
  standard: WEBHOOK_EVENT_TYPES,
  slack: SLACK_EVENT_TYPES,
};

function checkEvents(kind: EndpointKind, events: string[]): void {
  const wrong = events.filter((e) => !EVENT_TYPES_OF[kind].includes(e));
  if (wrong.length > 0)
    throw new AppError('validation_failed', undefined, [
      { path: 'events', message: `not for a ${kind} endpoint: ${wrong.join(', ')}` },
    ]);
}

// Endpoints as admins manage them. A secret is shown once, when it is made; afterwards only its
// creation date is. Rotating keeps the old secret signing for an overlap, so a receiver can move
// to the new one without a window in which deliveries fail (README.md, "Secrets").

export interface EndpointDeps {
  db: Connection;
  clock: Clock;
  allowPrivateTargets: boolean;
  lookup?: Lookup;
}

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The secrets that sign at `now`: the current one and any rotated out whose overlap has not ended. */
export const signingSecrets = (endpoint: Pick<WebhookEndpoint, 'secrets'>, now: Date) =>
  endpoint.secrets.filter((s) => !s.expiresAt || s.expiresAt > now).map((s) => s.secret);

/** What the admin API shows of an endpoint: never a secret. */
export function endpointView(endpoint: WebhookEndpoint, now: Date) {
  return {
    id: endpoint._id,
    kind: endpoint.kind ?? 'standard',
    url: endpoint.url,
    description: endpoint.description ?? null,
    events: endpoint.events,
    enabled: endpoint.enabled,
    disabledAt: endpoint.disabledAt ?? null,
    disabledReason: endpoint.disabledReason ?? null,
    secrets: endpoint.secrets
      .filter((s) => !s.expiresAt || s.expiresAt > now)
      .map((s) => ({ createdAt: s.createdAt, expiresAt: s.expiresAt ?? null })),
    createdAt: endpoint.createdAt,
  };
}

async function checkUrl(deps: EndpointDeps, url: string): Promise<void> {
  const verdict = await checkTargetUrl(url, { allowPrivate: deps.allowPrivateTargets, lookup: deps.lookup });
  if (verdict === 'invalid')
    throw new AppError('validation_failed', undefined, [
      { path: 'url', message: 'an http(s) URL without user name or password' },
    ]);
  if (verdict === 'unsafe') throw new AppError('webhook_target_unsafe');
}

export async function createEndpoint(
  deps: EndpointDeps,
  input: { url: string; events: string[]; description?: string; kind?: EndpointKind },
): Promise<{ endpoint: WebhookEndpoint; secret: string | null }> {
  const kind = input.kind ?? 'standard';
  checkEvents(kind, input.events);
  await checkUrl(deps, input.url);
  // A Slack incoming webhook checks no signature: its URL is its secret, so it gets none.
  const secret = kind === 'slack' ? null : newSecret();
  const endpoint = await webhookModels(deps.db).Endpoint.create({
    _id: `ep_${randomBytes(12).toString('hex')}`,
    kind,
    url: input.url,
    description: input.description,
    events: [...new Set(input.events)],
    secrets: secret ? [{ secret, createdAt: deps.clock.now() }] : [],
    rotations: 0,
    enabled: true,
  });
  return { endpoint: endpoint.toObject(), secret };
}

export async function findEndpoint(db: Connection, id: string): Promise<WebhookEndpoint> {
  const endpoint = await webhookModels(db).Endpoint.findById(id).lean<WebhookEndpoint>();
  if (!endpoint) throw new AppError('not_found', 'There is no webhook endpoint with this id.');
  return endpoint;
}

export const listEndpoints = (db: Connection) =>
  webhookModels(db).Endpoint.find().sort({ createdAt: 1 }).limit(500).lean<WebhookEndpoint[]>();

export async function updateEndpoint(
  deps: EndpointDeps,
  id: string,
  change: { url?: string; events?: string[]; description?: string; enabled?: boolean },
): Promise<WebhookEndpoint> {
  const current = await findEndpoint(deps.db, id);
  if (change.events !== undefined) checkEvents(current.kind ?? 'standard', change.events);
  if (change.url !== undefined) await checkUrl(deps, change.url);
  const $set: Record<string, unknown> = {};
  const $unset: Record<string, 1> = {};
  if (change.url !== undefined) $set.url = change.url;
  if (change.events !== undefined) $set.events = [...new Set(change.events)];
  if (change.description !== undefined) $set.description = change.description;
  if (change.enabled !== undefined) {
    $set.enabled = change.enabled;
    // Enabled again by a person: the reason it was disabled is history.
    if (change.enabled) Object.assign($unset, { disabledAt: 1, disabledReason: 1 });
    else $set.disabledAt = deps.clock.now();
    if (!change.enabled) $set.disabledReason = 'disabled by an admin';
  }
  await webhookModels(deps.db).Endpoint.updateOne({ _id: id }, { $set, $unset });
  return findEndpoint(deps.db, id);
}

export async function deleteEndpoint(db: Connection, id: string): Promise<void> {
  await findEndpoint(db, id);
  await webhookModels(db).Endpoint.deleteOne({ _id: id });
}

/**
 * A new secret, which signs from now on; the previous ones keep signing for `overlapHours`. Two
 * rotations at once cannot both win: each claims its rotation number first (an update here is a
 * read-modify-write, and the loser's secret, already shown, would never sign).
 */
export async function rotateSecret(
  deps: EndpointDeps,
  id: string,
  overlapHours: number,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const endpoint = await findEndpoint(deps.db, id);
  if (endpoint.kind === 'slack')
    throw new AppError('conflict', 'A Slack endpoint has no signing secret; its URL is the secret.');
  const now = deps.clock.now();
  if (!(await claimOnce(deps.db, `webhook-rotate:${id}:${endpoint.rotations + 1}`, now)))
    throw new AppError('conflict', 'Another rotation of this secret is under way; reload and try again.');
  const overlapEnds = new Date(now.getTime() + overlapHours * 3_600_000);
  const secret = newSecret();
  const kept: EndpointSecret[] = endpoint.secrets
    .filter((s) => !s.expiresAt || s.expiresAt > now)
    .map((s) => ({ ...s, expiresAt: s.expiresAt && s.expiresAt < overlapEnds ? s.expiresAt : overlapEnds }));
  await webhookModels(deps.db).Endpoint.updateOne(
    { _id: id },
    { $set: { secrets: [{ secret, createdAt: now }, ...kept], rotations: endpoint.rotations + 1 } },
  );
  return { endpoint: await findEndpoint(deps.db, id), secret };
}
