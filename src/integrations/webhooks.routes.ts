import { Router } from 'express';
import { z } from 'zod';
import { errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
import { parseInput } from '../http/validate.js';
import { requireRole } from '../staff/require-role.js';
import type { StaffAuthConfig } from '../staff/staff-auth.service.js';
import { listDeliveries, redeliver } from './deliveries.service.js';
import {
  createEndpoint,
  deleteEndpoint,
  type EndpointDeps,
  endpointView,
  findEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from './endpoints.service.js';
import { SLACK_EVENT_TYPES } from './slack.js';
import { WEBHOOK_EVENT_TYPES } from './webhook-events.js';

// The staff API for outgoing webhooks, admins only: endpoints, their secrets, their delivery log,
// and sending a delivery again. Thin handlers: parse, call the service, answer.

export interface WebhookRoutesDeps extends EndpointDeps {
  staffAuth: StaffAuthConfig;
}

const ALL_TYPES = [...new Set<string>([...WEBHOOK_EVENT_TYPES, ...SLACK_EVENT_TYPES])];
// Which of these a kind may choose is checked by the service (EVENT_TYPES_OF).
const eventType = z.enum(ALL_TYPES as [string, ...string[]]);
const url = z.string().trim().max(2_000).meta({ example: 'https://hooks.example.org/membership' });
const createSchema = z
  .object({
    url,
    events: z
      .array(eventType)
      .min(1)
      .max(ALL_TYPES.length * 2),
    description: z.string().trim().max(200).optional(),
    kind: z.enum(['standard', 'slack']).default('standard').meta({
      description: '`slack`: a Slack incoming webhook, sent `{text}` messages (milestones, daily totals)',
    }),
  })
  .meta({ id: 'WebhookEndpointCreate' });
/** What `PATCH` accepts; the console's edit form is checked by the same schema (one rule). */
export const endpointUpdateSchema = z
  .object({
    url: url.optional(),
    events: z
      .array(eventType)
      .min(1)
      .max(ALL_TYPES.length * 2)
      .optional(),
    description: z.string().trim().max(200).optional(),
    enabled: z.boolean().optional(),
    version: z.number().int().nonnegative().optional().meta({
      description:
        'The version the change was made from (as read); if someone saved since, 409 edit_conflict with the endpoint as it is now. Without it, the change applies to the current version',
    }),
  })
  .strict()
  .refine(({ version: _version, ...change }) => Object.keys(change).length > 0, {
    message: 'change at least one field',
  })
  .meta({ id: 'WebhookEndpointUpdate' });
const rotateSchema = z
  .object({
    overlapHours: z
      .number()
      .int()
      .min(0)
      .max(24 * 7)
      .default(24)
      .meta({ description: 'How long the previous secret keeps signing beside the new one' }),
  })
  .meta({ id: 'WebhookSecretRotation' });
const endpointId = z.string().regex(/^ep_[0-9a-f]{24}$/);
const deliveryId = z.string().regex(/^[0-9a-f]{24}$/);

/** An id in the path that cannot be one answers 404, as an id that is not there does. */
const idOr404 = (schema: z.ZodString, value: unknown) =>
  schema.safeParse(value).success ? String(value) : '';

export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const router = Router();
  const admin = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'admin');
  const now = () => deps.clock.now();

  router.get('/admin/webhooks/endpoints', admin, async (_req, res) => {
    const endpoints = await listEndpoints(deps.db);
    res.json({
      endpoints: endpoints.map((e) => endpointView(e, now())),
      eventTypes: WEBHOOK_EVENT_TYPES,
      slackEventTypes: SLACK_EVENT_TYPES,
    });
  });

  // The only answer that carries the secret: it is not shown again.
  router.post('/admin/webhooks/endpoints', admin, async (req, res) => {
    const input = parseInput(createSchema, req.body);
    const { endpoint, secret } = await createEndpoint(deps, input);
    res.status(201).json({ endpoint: endpointView(endpoint, now()), secret });
  });

  router.get('/admin/webhooks/endpoints/:id', admin, async (req, res) => {
    const endpoint = await findEndpoint(deps.db, idOr404(endpointId, req.params.id));
    res.json({ endpoint: endpointView(endpoint, now()) });
  });

  router.patch('/admin/webhooks/endpoints/:id', admin, async (req, res) => {
    const id = idOr404(endpointId, req.params.id);
    await findEndpoint(deps.db, id);
    const endpoint = await updateEndpoint(deps, id, parseInput(endpointUpdateSchema, req.body));
    res.json({ endpoint: endpointView(endpoint, now()) });
  });

  router.delete('/admin/webhooks/endpoints/:id', admin, async (req, res) => {
    await deleteEndpoint(deps.db, idOr404(endpointId, req.params.id));
    res.status(204).end();
  });

  router.post('/admin/webhooks/endpoints/:id/rotate-secret', admin, async (req, res) => {
    const id = idOr404(endpointId, req.params.id);
    await findEndpoint(deps.db, id);
    const { overlapHours } = parseInput(rotateSchema, req.body ?? {});
    const { endpoint, secret } = await rotateSecret(deps, id, overlapHours);
    res.json({ endpoint: endpointView(endpoint, now()), secret });
  });

  router.get('/admin/webhooks/endpoints/:id/deliveries', admin, async (req, res) => {
    const endpoint = await findEndpoint(deps.db, idOr404(endpointId, req.params.id));
    const limit = parseInput(z.coerce.number().int().min(1).max(200).default(50), req.query.limit);
    res.json({ deliveries: await listDeliveries(deps.db, endpoint._id, limit) });
  });

  router.post('/admin/webhooks/deliveries/:id/redeliver', admin, async (req, res) => {
    const delivery = await redeliver(deps, idOr404(deliveryId, req.params.id));
    res.status(202).json({ delivery: { id: String(delivery._id), webhookId: delivery.webhookId } });
  });

  return router;
}

export function webhookRouteDocs(docs: ApiDocs): void {
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: errorBodySchema } },
  });
  const ok = (description: string) => ({ description });
  const secured = { security: [{ staffToken: [] }] };
  const denied = { 401: error('No token'), 403: error('Not an admin') };
  const params = z.object({ id: endpointId });
  const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });
  docs.registerPath({
    method: 'get',
    path: '/admin/webhooks/endpoints',
    tags: ['Webhooks'],
    summary: 'Outgoing webhook endpoints and the event types they may choose, by kind (admin)',
    ...secured,
    responses: { 200: ok('{ endpoints, eventTypes, slackEventTypes }'), ...denied },
  });
  docs.registerPath({
    method: 'post',
    path: '/admin/webhooks/endpoints',
    tags: ['Webhooks'],
    summary: 'Add an endpoint; the answer shows its signing secret (whsec_…) this once (admin)',
    ...secured,
    request: { body: json(createSchema) },
    responses: {
      201: ok('{ endpoint, secret } (secret null for a Slack endpoint)'),
      ...denied,
      422: error('Invalid fields, or webhook_target_unsafe: not a public address (production)'),
    },
  });
  docs.registerPath({
    method: 'patch',
    path: '/admin/webhooks/endpoints/{id}',
    tags: ['Webhooks'],
    summary: 'Change the URL, events or description, or enable/disable the endpoint (admin)',
    description:
      'Send back the `version` you read: if someone changed the endpoint since, nothing is saved and the answer is 409 `edit_conflict` whose `current` is the endpoint as it is now, to merge with and send again.',
    ...secured,
    request: { params, body: json(endpointUpdateSchema) },
    responses: {
      200: ok('{ endpoint } with its new version'),
      ...denied,
      404: error('No such endpoint'),
      409: error('edit_conflict: changed since the version sent; `current` is the endpoint now'),
      422: error('Invalid'),
    },
  });
  docs.registerPath({
    method: 'delete',
    path: '/admin/webhooks/endpoints/{id}',
    tags: ['Webhooks'],
    summary: 'Delete an endpoint; its pending deliveries fail (admin)',
    ...secured,
    request: { params },
    responses: { 204: ok('Deleted'), ...denied, 404: error('No such endpoint') },
  });
  docs.registerPath({
    method: 'post',
    path: '/admin/webhooks/endpoints/{id}/rotate-secret',
    tags: ['Webhooks'],
    summary: 'A new signing secret, shown this once; the previous one keeps signing for the overlap (admin)',
    ...secured,
    request: { params, body: json(rotateSchema) },
    responses: {
      200: ok('{ endpoint, secret }'),
      ...denied,
      404: error('No such endpoint'),
      409: error('A Slack endpoint, or another rotation under way'),
    },
  });
  docs.registerPath({
    method: 'get',
    path: '/admin/webhooks/endpoints/{id}/deliveries',
    tags: ['Webhooks'],
    summary: 'The delivery log: newest deliveries, each with every attempt, status and response time (admin)',
    ...secured,
    request: { params },
    responses: { 200: ok('{ deliveries }'), ...denied, 404: error('No such endpoint') },
  });
  docs.registerPath({
    method: 'post',
    path: '/admin/webhooks/deliveries/{id}/redeliver',
    tags: ['Webhooks'],
    summary: 'Send a delivery again, with the same body and webhook-id (admin)',
    ...secured,
    request: { params: z.object({ id: deliveryId }) },
    responses: { 202: ok('{ delivery }'), ...denied, 404: error('No such delivery') },
  });
}
