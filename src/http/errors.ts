import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { isStripeOutage } from '../infra/stripe.js';

// Every error a client can see, with its status and the message a person reads. The code is
// the contract (clients branch on it); the message may be reworded.
export const ERROR_CATALOG = {
  invalid_json: [400, 'The request body is not valid JSON.'],
  webhook_signature_invalid: [400, 'The webhook signature could not be verified.'],
  bad_request: [400, 'The request could not be understood.'],
  unauthorized: [401, 'Sign in to continue.'],
  invalid_signature: [401, 'The request signature could not be verified.'],
  forbidden: [403, 'You do not have permission to do this.'],
  not_found: [404, 'There is nothing at this address.'],
  method_not_allowed: [405, 'This method is not allowed here.'],
  conflict: [409, 'The request conflicts with the current state.'],
  payload_too_large: [413, 'The request body is too large.'],
  unsupported_media_type: [415, 'Send the body as application/json.'],
  validation_failed: [422, 'Some fields are missing or invalid.'],
  rate_limited: [429, 'Too many requests. Please wait a moment and try again.'],
  internal_error: [500, 'Something went wrong on our side. Please try again later.'],
  stripe_unavailable: [502, 'Stripe could not be reached. Please try again shortly.'],
  payments_not_configured: [503, 'Payments are not available right now.'],
  payments_unavailable: [503, 'Payments are unavailable for a moment. Please try again shortly.'],
  not_ready: [503, 'The service is not ready.'],
  webhook_not_configured: [503, 'This webhook is not configured on the server.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

// Passing outages: the answer says when to try again (seconds).
const RETRY_AFTER_SECONDS: Partial<Record<ErrorCode, number>> = { payments_unavailable: 30, not_ready: 5 };

export interface ErrorDetail {
  path?: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message ?? ERROR_CATALOG[code][1]);
    this.name = 'AppError';
    this.status = ERROR_CATALOG[code][0];
  }
}

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'validation_failed' }),
      message: z.string(),
      details: z.array(z.object({ path: z.string().optional(), message: z.string() })).optional(),
      requestId: z.string().optional(),
    }),
  })
  .meta({ id: 'Error' });

export function errorBody(error: AppError, requestId?: string) {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.details?.length ? { details: error.details } : {}),
      ...(requestId ? { requestId } : {}),
    },
  };
}

/** Turns a zod failure into the 422 a form can show next to each field. */
export function validationError(error: z.ZodError): AppError {
  return new AppError(
    'validation_failed',
    undefined,
    error.issues.map((issue) => ({ path: issue.path.join('.') || undefined, message: issue.message })),
  );
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => next(new AppError('not_found'));

// body-parser reports its failures through `type`; map them to our codes.
const BODY_PARSER_ERRORS: Record<string, ErrorCode> = {
  'entity.parse.failed': 'invalid_json',
  'entity.too.large': 'payload_too_large',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
  'request.aborted': 'bad_request',
  'request.size.invalid': 'bad_request',
};

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let error: AppError;
  if (err instanceof AppError) {
    error = err;
  } else if (err instanceof z.ZodError) {
    error = validationError(err);
  } else if (typeof err?.type === 'string' && BODY_PARSER_ERRORS[err.type]) {
    error = new AppError(BODY_PARSER_ERRORS[err.type]!);
  } else if (isStripeOutage(err)) {
    // Stripe unreachable, 5xx or too slow: not the reader's fault and not ours to hide as a 500.
    error = new AppError('payments_unavailable');
  } else {
    error = new AppError('internal_error');
    req.log.error({ err }, 'unhandled error');
  }
  if (error.status >= 500 && error.code !== 'internal_error')
    req.log.warn({ code: error.code }, error.message);
  if (res.headersSent) return res.destroy();
  const retryAfter = RETRY_AFTER_SECONDS[error.code];
  if (retryAfter) res.set('Retry-After', String(retryAfter));
  res.status(error.status).json(errorBody(error, String(req.id)));
};
