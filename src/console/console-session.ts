import { parse as parseCookies, serialize } from 'cookie';
import type { Request, RequestHandler, Response } from 'express';
import { AppError } from '../http/errors.js';
import { fromOurOwnPage } from '../http/same-origin.js';
import type { StaffRole } from '../staff/staff.model.js';
import {
  refreshStaffTokens,
  type StaffAuthDeps,
  type TokenPair,
  verifyStaffToken,
} from '../staff/staff-auth.service.js';

// The staff console is server-rendered and works without JavaScript, so it cannot send a bearer
// header: the same short-lived access token and single-use refresh token the API issues travel in
// HttpOnly, SameSite=Strict cookies scoped to /console. An expired access token is renewed with the
// refresh token on the next request (spending it, as the API's refresh does). Posts must also come
// from our own pages (Origin), so no other site can submit a console form in a signed-in browser.

const ACCESS = 'md_staff';
const REFRESH = 'md_staff_refresh';
const PATH = '/console';
const ASSET = /^\/console\.(css|js)$/;

export interface ConsoleSessionDeps extends StaffAuthDeps {
  secureCookies: boolean;
}

export function setConsoleCookies(res: Response, deps: ConsoleSessionDeps, tokens: TokenPair): void {
  const options = { httpOnly: true, sameSite: 'strict' as const, secure: deps.secureCookies, path: PATH };
  res.append('Set-Cookie', [
    serialize(ACCESS, tokens.accessToken, { ...options, maxAge: tokens.expiresIn }),
    serialize(REFRESH, tokens.refreshToken, { ...options, maxAge: deps.auth.refreshTokenDays * 86_400 }),
  ]);
}

export function clearConsoleCookies(res: Response): void {
  res.append('Set-Cookie', [
    serialize(ACCESS, '', { path: PATH, maxAge: 0 }),
    serialize(REFRESH, '', { path: PATH, maxAge: 0 }),
  ]);
}

export const refreshTokenOf = (req: Request) => parseCookies(req.headers.cookie ?? '')[REFRESH];

/** Who is signed in to the console (renewing an expired access token), or nobody. */
export function consoleSession(deps: ConsoleSessionDeps): RequestHandler {
  return async (req, res, next) => {
    // The console's own script and styles need no one signed in, and must not race the page for
    // the single-use refresh token.
    if (ASSET.test(req.path)) return next();
    const cookies = parseCookies(req.headers.cookie ?? '');
    const now = deps.clock.now();
    const access = cookies[ACCESS] ? verifyStaffToken(deps.auth, cookies[ACCESS], now) : undefined;
    if (access) req.staff = access;
    else if (cookies[REFRESH]) {
      try {
        const tokens = await refreshStaffTokens(deps, cookies[REFRESH]);
        setConsoleCookies(res, deps, tokens);
        req.staff = verifyStaffToken(deps.auth, tokens.accessToken, now);
      } catch (error) {
        // Spent or expired: not signed in. The cookies are left alone, since a request racing this
        // one may just have renewed them; sign-out and the cookies' own lifetime remove them.
        if (!(error instanceof AppError)) return next(error);
      }
    }
    if (req.method === 'POST' && !fromOurOwnPage(req)) return next(new AppError('forbidden'));
    next();
  };
}

/** The console pages a role may open; others see the sign-in form or a page saying who may. */
export function consoleRole(...roles: StaffRole[]): RequestHandler {
  return (req, _res, next) => {
    if (!req.staff) return next(new AppError('unauthorized'));
    if (!roles.includes(req.staff.role)) return next(new AppError('forbidden'));
    next();
  };
}
