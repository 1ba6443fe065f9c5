import { type Request, Router } from 'express';
import { z } from 'zod';
import { errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import { emailField, parseInput } from '../http/validate.js';
import {
  refreshStaffTokens,
  revokeRefreshToken,
  type StaffAuthDeps,
  signInStaff,
} from './staff-auth.service.js';

const signInBody = z
  .object({ email: emailField, password: z.string().min(1).max(200) })
  .meta({ id: 'StaffSignIn' });
const refreshBody = z.object({ refreshToken: z.string().min(20).max(100) });
const tokenPairSchema = z
  .object({
    accessToken: z.string(),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number(),
    refreshToken: z.string(),
  })
  .meta({ id: 'StaffTokens' });

/** Staff sign-in and refresh attempts per IP per 15 minutes. */
export const STAFF_SIGN_INS_PER_IP = 30;

export function staffRoutes(deps: StaffAuthDeps): Router {
  const router = Router();
  // Password guesses and refresh attempts share one allowance per IP, across processes.
  const limit = (req: Request) =>
    enforceRateLimit(deps.db, deps.clock.now(), {
      key: `staff-sign-in-ip:${req.ip}`,
      limit: STAFF_SIGN_INS_PER_IP,
      windowMs: 15 * 60_000,
    });

  router.post('/staff/sign-in', async (req, res) => {
    const { email, password } = parseInput(signInBody, req.body);
    await limit(req);
    res.set('Cache-Control', 'no-store').json(await signInStaff(deps, email, password));
  });

  router.post('/staff/token/refresh', async (req, res) => {
    const { refreshToken } = parseInput(refreshBody, req.body);
    await limit(req);
    res.set('Cache-Control', 'no-store').json(await refreshStaffTokens(deps, refreshToken));
  });

  router.post('/staff/sign-out', async (req, res) => {
    const { refreshToken } = parseInput(refreshBody, req.body);
    await revokeRefreshToken(deps.db, refreshToken);
    res.status(204).end();
  });

  return router;
}

export function staffDocs(docs: ApiDocs): void {
  docs.registerComponent('securitySchemes', 'staffToken', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });
  const tokens = {
    description: 'A short-lived access token and a single-use refresh token',
    content: { 'application/json': { schema: tokenPairSchema } },
  };
  const unauthorized = {
    description: 'Wrong credentials, or an expired or spent refresh token',
    content: { 'application/json': { schema: errorBodySchema } },
  };
  docs.registerPath({
    method: 'post',
    path: '/staff/sign-in',
    tags: ['Staff'],
    summary: 'Sign in with email and password',
    request: { body: { content: { 'application/json': { schema: signInBody } } } },
    responses: { 200: tokens, 401: unauthorized },
  });
  docs.registerPath({
    method: 'post',
    path: '/staff/token/refresh',
    tags: ['Staff'],
    summary: 'Trade a refresh token (once) for a new pair',
    request: { body: { content: { 'application/json': { schema: refreshBody } } } },
    responses: { 200: tokens, 401: unauthorized },
  });
}
