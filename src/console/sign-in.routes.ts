import { readFileSync } from 'node:fs';
import { type Request, Router } from 'express';
import { z } from 'zod';
import { enforceRateLimit } from '../http/rate-limit.js';
import { emailField, parseInput } from '../http/validate.js';
import { fromRoot } from '../infra/paths.js';
import { STAFF_SIGN_INS_PER_IP } from '../staff/staff.routes.js';
import { revokeRefreshToken, signInStaff } from '../staff/staff-auth.service.js';
import { consoleErrors, sendConsolePage } from './console-page.js';
import {
  type ConsoleSessionDeps,
  clearConsoleCookies,
  refreshTokenOf,
  setConsoleCookies,
} from './console-session.js';

const signInForm = z.object({
  email: emailField,
  password: z.string().min(1, 'Enter your password').max(200),
  next: z.string().max(300).optional(),
});

/** Only a console address is followed after signing in (no open redirect). */
const nextPage = (value: unknown) =>
  typeof value === 'string' &&
  /^\/console(\/[\w\-/?=&%.]*|\?[\w\-=&%.]*)?$/.test(value) &&
  !value.startsWith('//')
    ? value
    : '/console';

export function consoleSignInRoutes(deps: ConsoleSessionDeps): Router {
  const router = Router();
  const css = readFileSync(fromRoot('templates/console/console.css'), 'utf8');
  const script = readFileSync(fromRoot('templates/console/console.js'), 'utf8');
  router.get('/console/console.css', (_req, res) => {
    res.type('text/css').set('Cache-Control', 'public, max-age=300').send(css);
  });
  router.get('/console/console.js', (_req, res) => {
    res.type('application/javascript').set('Cache-Control', 'public, max-age=300').send(script);
  });
  const form = (req: Request, message?: string) => ({
    title: 'console.signIn.title',
    section: 'sign-in',
    next: nextPage(req.body?.next ?? req.query.next),
    email: typeof req.body?.email === 'string' ? req.body.email.slice(0, 254) : '',
    message,
  });

  router.get('/console/sign-in', (req, res) => {
    if (req.staff) return res.redirect(303, nextPage(req.query.next));
    sendConsolePage(res, 'sign-in', form(req));
  });

  router.post(
    '/console/sign-in',
    consoleErrors('sign-in', (res, error, req) =>
      sendConsolePage(res, 'sign-in', form(req, error.message), error.status),
    ),
    async (req, res) => {
      const { email, password } = parseInput(signInForm, req.body);
      // One allowance per IP with the API's sign-in, across processes.
      await enforceRateLimit(deps.db, deps.clock.now(), {
        key: `staff-sign-in-ip:${req.ip}`,
        limit: STAFF_SIGN_INS_PER_IP,
        windowMs: 15 * 60_000,
      });
      setConsoleCookies(res, deps, await signInStaff(deps, email, password));
      res.redirect(303, nextPage(req.body.next));
    },
  );

  router.post('/console/sign-out', async (req, res) => {
    const refreshToken = refreshTokenOf(req);
    if (refreshToken) await revokeRefreshToken(deps.db, refreshToken);
    clearConsoleCookies(res);
    res.redirect(303, '/console/sign-in');
  });

  return router;
}
