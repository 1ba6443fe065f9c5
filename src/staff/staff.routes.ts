import { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { AppError, errorBodySchema } from '../http/errors.js';
import type { ApiDocs } from '../http/openapi.js';
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

export function staffRoutes(deps: StaffAuthDeps): Router {
  const router = Router();
  const limit = rateLimit({
    windowMs: 15 * 60_000,
    limit: 30,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, _res, next) => next(new AppError('rate_limited')),
  });

  router.post('/staff/sign-in', limit, async (req, res) => {
    const { email, password } = parseInput(signInBody, req.body);
    res.set('Cache-Control', 'no-store').json(await signInStaff(deps, email, password));
  });

  router.post('/staff/token/refresh', limit, async (req, res) => {
    const { refreshToken } = parseInput(refreshBody, req.body);
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
