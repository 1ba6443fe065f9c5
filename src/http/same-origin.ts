import type { Request, RequestHandler } from 'express';
import { AppError } from './errors.js';

// Forms that change state (the staff console's, the member account's) are accepted only from our
// own pages, so no other site can submit one in a signed-in browser: not to sign someone out, nor
// to sign them in to an account of the other site's choosing (login CSRF). docs/security.md.

/**
 * A browser says where a form was posted from; a post from another site is refused. Sec-Fetch-Site
 * first (our pages send no referrer, so their Origin header reads "null"), else Origin; a client
 * that sends neither is not a browser, and has no one's cookies to ride on.
 */
export function fromOurOwnPage(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site) return site === 'same-origin' || site === 'none';
  const origin = req.get('origin');
  if (!origin || origin === 'null') return !origin;
  try {
    return new URL(origin).host === req.get('host');
  } catch {
    return false;
  }
}

/** Route middleware: a POST (or any unsafe method) from another site gets 403 and changes nothing. */
export function refuseCrossSite(message?: string): RequestHandler {
  return (req, _res, next) => {
    const safe = req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS';
    next(safe || fromOurOwnPage(req) ? undefined : new AppError('forbidden', message));
  };
}
