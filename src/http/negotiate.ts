import type { Request, RequestHandler, Response } from 'express';
import type { AppError } from './errors.js';

// One decision for every route that serves both API clients and hosted no-JavaScript forms.
// An explicit Accept wins: a browser asks for text/html first, an API client for JSON. Without
// one (or with a bare */*, as fetch and curl send), a form post or a GET of a page route is a
// browser and anything else is an API client.

const FORM = 'application/x-www-form-urlencoded';

/** True when the answer should be a readable page, false when it should be JSON. */
export function wantsPage(req: Request): boolean {
  const accept = req.get('accept')?.trim();
  if (accept && accept !== '*/*') return req.accepts(['application/json', 'text/html']) === 'text/html';
  return req.method === 'GET' || req.method === 'HEAD' || req.is(FORM) === FORM;
}

/**
 * Route middleware: when this request wants a page, an error is shown by `render` (typically the
 * form again, with the error's message) instead of the JSON error body. The error handler calls
 * it with the status already set.
 */
export function errorsAsPage(render: (res: Response, error: AppError, req: Request) => void): RequestHandler {
  return (req, res, next) => {
    res.locals.errorPage = (error: AppError) => render(res, error, req);
    next();
  };
}
