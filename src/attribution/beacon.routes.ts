import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { AppError, errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import type { Clock } from '../infra/clock.js';
import { placementOf } from '../memberships/attribution-input.js';
import { countFunnelStep } from './funnel.service.js';

// The widget and buttons tell the funnel they were seen or clicked: a POST with no body from
// `fetch(…, {keepalive, credentials: 'omit'})` (or `navigator.sendBeacon` where there is no fetch). The answer sets no cookie and the count keeps
// nothing of the request but the campaign, the placement and the day.

export const beaconQuery = z
  .object({
    event: z.enum(['view', 'click']),
    campaign: z
      .string()
      .regex(/^[a-z0-9-]{1,60}$/)
      .optional(),
    placement: z.string().max(200).optional(),
  })
  .meta({ id: 'FunnelBeacon' });

/** The beacon's allowance, or a 429 the caller can tell from other limits. */
async function beaconLimit(deps: BeaconDeps, ip: string | undefined) {
  try {
    await enforceRateLimit(deps.db, deps.clock.now(), {
      key: `beacon-ip:${ip}`,
      limit: deps.perIpPerMinute,
      windowMs: 60_000,
    });
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'rate_limited') throw error;
    throw new AppError('beacon_rate_limited', undefined, undefined, error.retryAfterSeconds);
  }
}

export interface BeaconDeps {
  db: Connection;
  clock: Clock;
  timeZone: string;
  /** Beacons one address may send per minute, across processes (ATTRIBUTION_BEACONS_PER_IP). */
  perIpPerMinute: number;
}

export function beaconRoutes(deps: BeaconDeps): Router {
  const router = Router();
  router.post('/attribution/events', async (req, res) => {
    const parsed = beaconQuery.safeParse(req.query);
    const placement = parsed.success ? placementOf(parsed.data.placement ?? 'widget') : undefined;
    if (!parsed.success || !placement)
      throw new AppError('attribution_invalid', undefined, [
        {
          message:
            'Send event=view|click, campaign as a campaign slug and placement as up to 40 letters, digits, - and _.',
        },
      ]);
    await beaconLimit(deps, req.ip);
    await countFunnelStep(deps.db, deps.timeZone, {
      stage: parsed.data.event,
      campaign: parsed.data.campaign,
      placement,
      at: deps.clock.now(),
      record: randomUUID(),
    });
    // Read from any news site, never cached, nothing remembered about the reader.
    res
      .set({
        'Cache-Control': 'no-store',
        'Access-Control-Allow-Origin': '*',
        'Cross-Origin-Resource-Policy': 'cross-origin',
      })
      .status(204)
      .end();
  });
  return router;
}

export function beaconDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'post',
    path: '/attribution/events',
    tags: ['Attribution'],
    summary: 'Count a widget or button view or click for the funnel (no cookie, no personal data kept)',
    request: { query: beaconQuery },
    responses: {
      204: { description: 'Counted' },
      422: {
        description: '`attribution_invalid`: unknown event, or a campaign or placement of the wrong shape',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      429: {
        description:
          '`beacon_rate_limited`: more beacons from one address in a minute than ATTRIBUTION_BEACONS_PER_IP; not counted (Retry-After)',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
