import { readFileSync } from 'node:fs';
import { parse as parseCookies } from 'cookie';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { publicRead } from '../http/cors.js';
import { AppError, errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
import { fromRoot } from '../infra/paths.js';
import { readMemberSession, SESSION_COOKIE, type SessionDeps } from './member-session.js';
import { createMemberSiteSigner, type MemberSiteSettings, memberAnswerOf } from './member-site.js';

// The newsroom's own site asks whether its reader is a member (src/accounts/README.md, "The site
// knows its members"; why a credentialed request and not an iframe: ADR 0016). Only a configured
// origin gets an answer and CORS headers; any other learns nothing, not even "not a member".

export interface MemberSiteRoutesDeps extends SessionDeps {
  memberSite: MemberSiteSettings;
  publicBaseUrl: string;
}

export const JWKS_PATH = '/.well-known/jwks.json';

const answerSchema = z
  .object({
    member: z.boolean(),
    plan: z.string().nullable(),
    token: z
      .string()
      .meta({ description: 'EdDSA JWT: iss, aud (the asking origin), iat, exp, member, plan' }),
    expiresAt: z.string(),
  })
  .meta({ id: 'MemberAnswer' });

export function memberSiteRoutes(deps: MemberSiteRoutesDeps): Router {
  const router = Router();
  const signer = createMemberSiteSigner(deps.memberSite, deps.publicBaseUrl);
  const origins = new Set(deps.memberSite.origins);
  const script = readFileSync(fromRoot('templates/embed/member.js'), 'utf8').replace(
    '/*@MEMBER_ORIGINS@*/ []',
    JSON.stringify(deps.memberSite.origins),
  );

  router.get(JWKS_PATH, publicRead, (_req, res) => {
    res.set({ 'Cache-Control': 'public, max-age=300', 'Cross-Origin-Resource-Policy': 'cross-origin' });
    res.json(signer.jwks);
  });

  router.get('/embed/member.js', (_req, res) => {
    res.set({ 'Cross-Origin-Resource-Policy': 'cross-origin', 'Cache-Control': 'public, max-age=300' });
    res.type('application/javascript').send(script);
  });

  router.get('/member/status', async (req: Request, res: Response) => {
    // Differs by origin and by reader: no cache may keep it or give it to another.
    res.set({ 'Cache-Control': 'no-store', Vary: 'Origin, Cookie' });
    // Our own iframe embed asks same-origin (no Origin header), after checking its hosts itself.
    const own = !req.headers.origin && req.headers['sec-fetch-site'] === 'same-origin';
    const origin = own ? deps.publicBaseUrl : req.headers.origin;
    if (!origin || (!own && !origins.has(origin))) throw new AppError('origin_not_allowed');
    const cookie = parseCookies(req.headers.cookie ?? '')[SESSION_COOKIE];
    const answer = await memberAnswerOf(deps.db, await readMemberSession(deps, cookie));
    const { token, expiresAt } = await signer.sign(answer, origin, deps.clock.now());
    if (!own) {
      res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' });
    }
    res.json({ ...answer, token, expiresAt: expiresAt.toISOString() });
  });

  return router;
}

export function memberSiteDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'get',
    path: '/member/status',
    tags: ['Member account'],
    summary:
      "Whether the signed-in reader is a member, for the newsroom's own site (configured origins only)",
    responses: {
      200: {
        description: 'The answer and its signed identity, with CORS headers for the asking origin',
        content: { 'application/json': { schema: answerSchema } },
      },
      403: {
        description: 'The Origin is not configured: no answer and no CORS headers',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
  docs.registerPath({
    method: 'get',
    path: JWKS_PATH,
    tags: ['Member account'],
    summary: 'The public keys that verify the member identity (JWK Set)',
    responses: {
      200: {
        description: 'JWK Set',
        content: {
          'application/json': { schema: z.object({ keys: z.array(z.record(z.string(), z.string())) }) },
        },
      },
    },
  });
}
