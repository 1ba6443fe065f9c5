import type { Request, RequestHandler, Response } from 'express';
import type { AppError } from './errors.js';

// Pages or JSON: the decision itself (wantsPage) lives beside the error handler that makes it.
export { wantsPage } from './errors.js';

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
