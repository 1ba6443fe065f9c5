import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { AppError } from '../http/errors.js';
import { claimOnce } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { saveVersion, type VersionChange } from '../infra/versions.js';
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
    /** Send it back with a change: a save from an older version is refused (409 edit_conflict). */
    version: endpoint.version ?? 0,
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

/** A change of an endpoint's settings; `version`, when given, is the one it was made from. */
export interface EndpointChange {
  url?: string;
  events?: string[];
  description?: string;
  enabled?: boolean;
  version?: number;
}

/** The answer to a save made from an older version: the endpoint as it is now, to merge with. */
export const endpointConflict = (current: WebhookEndpoint, now: Date) =>
  new AppError('edit_conflict', undefined, undefined, undefined, endpointView(current, now));

/**
 * Every writer of an endpoint's settings saves through here, raising its version by one: a save
 * from an older version is refused (409 edit_conflict with the endpoint as it is now); without
 * `expected` the change applies to the current version (README.md, "Edits never overwrite each other").
 */
export async function saveEndpoint(
  deps: Pick<EndpointDeps, 'db' | 'clock'>,
  id: string,
  expected: number | undefined,
  change: (before: WebhookEndpoint) => VersionChange,
): Promise<WebhookEndpoint> {
  const saved = await saveVersion(
    {
      db: deps.db,
      model: webhookModels(deps.db).Endpoint,
      prefix: 'webhook-edit',
      load: () => findEndpoint(deps.db, id),
      now: () => deps.clock.now(),
    },
    expected,
    change,
  );
  if (saved.outcome === 'saved') return saved.record;
  if (saved.outcome === 'conflict') throw endpointConflict(saved.current, deps.clock.now());
  throw new AppError('edit_conflict', 'The endpoint is being changed by others right now. Please try again.');
}

export async function updateEndpoint(
  deps: EndpointDeps,
  id: string,
  { version, ...change }: EndpointChange,
): Promise<WebhookEndpoint> {
  const current = await findEndpoint(deps.db, id);
  if (change.events !== undefined) checkEvents(current.kind ?? 'standard', change.events);
  // Checked once, before the save: the lookup is slow, and a retried save changes the same URL.
  if (change.url !== undefined) await checkUrl(deps, change.url);
  return saveEndpoint(deps, id, version, () => {
    const set: Record<string, unknown> = {};
    const unset: string[] = [];
    if (change.url !== undefined) set.url = change.url;
    if (change.events !== undefined) set.events = [...new Set(change.events)];
    if (change.description !== undefined) set.description = change.description;
    if (change.enabled !== undefined) {
      set.enabled = change.enabled;
      // Enabled again by a person: the reason it was disabled is history.
      if (change.enabled) unset.push('disabledAt', 'disabledReason');
      else Object.assign(set, { disabledAt: deps.clock.now(), disabledReason: 'disabled by an admin' });
    }
    return { set, unset };
  });
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
