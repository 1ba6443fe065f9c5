import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { z } from 'zod';
import { currencyClashOf, isStripeError, isStripeIdempotencyError, isStripeOutage } from '../infra/stripe.js';

// Every error a client can see, with its status and the message a person reads. The code is
// the contract (clients branch on it); the message may be reworded.
export const ERROR_CATALOG = {
  invalid_json: [400, 'The request body is not valid JSON.'],
  webhook_signature_invalid: [400, 'The webhook signature could not be verified.'],
  webhook_event_invalid: [400, 'The webhook is signed, but it is not an event this service can read.'],
  bad_request: [400, 'The request could not be understood.'],
  invalid_encoding: [400, 'The request body is not encoded as its Content-Encoding header says.'],
  invalid_path: [400, 'The address contains characters that could not be decoded.'],
  invalid_link: [400, 'This link is not valid.'],
  unauthorized: [401, 'Sign in to continue.'],
  invalid_signature: [401, 'The request signature could not be verified.'],
  forbidden: [403, 'You do not have permission to do this.'],
  origin_not_allowed: [403, 'This site is not one the membership service answers.'],
  not_found: [404, 'There is nothing at this address.'],
  gift_not_found: [404, 'We could not find this gift.'],
  receipt_not_found: [404, "No entry in this campaign's log matches this receipt."],
  method_not_allowed: [405, 'This method is not allowed here.'],
  request_timeout: [408, 'The request took too long to arrive.'],
  conflict: [409, 'The request conflicts with the current state.'],
  idempotency_key_reused: [
    409,
    'This Idempotency-Key was used for another request, or that request is still running.',
  ],
  edit_conflict: [
    409,
    'Someone saved a change after you opened this. Nothing of yours was saved: look at it as it is now and save again.',
  ],
  gift_already_redeemed: [409, 'This gift has already been used.'],
  currency_conflict: [
    409,
    'This address already pays in another currency, and a payment account keeps one. Choose that currency, or write to us to change it.',
  ],
  receipt_pending: [
    409,
    'This receipt is logged; the next signed checkpoint (within the hour) will include it.',
  ],
  gift_expired: [410, 'This gift has expired.'],
  gift_refunded: [410, 'This gift was cancelled.'],
  link_expired: [410, 'This link has expired.'],
  length_required: [411, 'Send a Content-Length header with the body.'],
  precondition_failed: [412, 'A precondition of the request failed.'],
  payload_too_large: [413, 'The request body is too large.'],
  too_many_fields: [413, 'The form has too many fields.'],
  uri_too_long: [414, 'The address is too long.'],
  unsupported_media_type: [415, 'Send the body as application/json.'],
  range_not_satisfiable: [416, 'The requested range is not available.'],
  expectation_failed: [417, 'The Expect header cannot be met.'],
  validation_failed: [422, 'Some fields are missing or invalid.'],
  attribution_invalid: [
    422,
    'The page, placement, referrer or campaign tags sent with this checkout are not valid: see details.',
  ],
  webhook_target_unsafe: [
    422,
    'Webhooks are sent only to public internet addresses; this one is loopback, private or link-local.',
  ],
  gift_not_ready: [425, 'This gift is not ready yet.'],
  rate_limited: [429, 'Too many requests. Please wait a moment and try again.'],
  beacon_rate_limited: [
    429,
    'Too many views and clicks from this address in a minute: these are not counted. Try again after Retry-After seconds.',
  ],
  headers_too_large: [431, 'The request headers are too large.'],
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
    /** For 429: when the client may try again (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
    /** For 409 edit_conflict: the record as it is now, so the client can merge and retry. */
    readonly current?: Record<string, unknown>,
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
      current: z
        .record(z.string(), z.unknown())
        .optional()
        .meta({ description: 'With edit_conflict: the record as it is now, including its version' }),
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
      ...(error.current ? { current: error.current } : {}),
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
  'entity.verify.failed': 'bad_request',
  'encoding.unsupported': 'unsupported_media_type',
  'charset.unsupported': 'unsupported_media_type',
  'parameters.too.many': 'too_many_fields',
  'request.aborted': 'bad_request',
  'request.size.invalid': 'bad_request',
};

// Any other error that says it is the client's (an http-errors `status` or `statusCode` in
// 400–499) keeps its status, with the catalogue's general code for it.
const CODE_FOR_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  411: 'length_required',
  412: 'precondition_failed',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  417: 'expectation_failed',
  422: 'validation_failed',
  429: 'rate_limited',
  431: 'headers_too_large',
};

/** The catalogue error for anything thrown, or undefined when it is not the client's fault. */
export function clientErrorOf(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof z.ZodError) return validationError(err);
  // The client's Idempotency-Key, which we pass on: reused with another body, or sent twice at once.
  if (isStripeIdempotencyError(err)) return new AppError('idempotency_key_reused');
  // A known customer choosing another currency: the reader can fix it by choosing theirs.
  const currency = currencyClashOf(err);
  if (currency)
    return new AppError(
      'currency_conflict',
      `This address already pays in ${currency}. Choose ${currency}, or write to us to change currency.`,
      [{ path: 'currency', message: `Choose ${currency}` }],
    );
  // Stripe's 401 is our key, its 400 our request: not the reader's to fix (nor "sign in").
  if (isStripeError(err)) return undefined;
  const e = (err ?? {}) as {
    type?: unknown;
    code?: unknown;
    status?: unknown;
    statusCode?: unknown;
    message?: unknown;
  };
  if (typeof e.type === 'string' && BODY_PARSER_ERRORS[e.type])
    return new AppError(BODY_PARSER_ERRORS[e.type]!);
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  // zlib failing on a body that is not compressed as Content-Encoding claims: Z_DATA_ERROR for
  // gzip and deflate, ERR__ERROR_FORMAT_… for br; all with a numeric errno and no `type`.
  if (typeof (err as { errno?: unknown }).errno === 'number') return new AppError('invalid_encoding');
  // Express's router: "Failed to decode param '%ZZ'".
  if (typeof e.message === 'string' && e.message.startsWith('Failed to decode param'))
    return new AppError('invalid_path');
  return new AppError(CODE_FOR_STATUS[status] ?? 'bad_request');
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  let error = clientErrorOf(err);
  if (!error && isStripeOutage(err)) {
    // Stripe unreachable, 5xx or too slow: not the reader's fault and not ours to hide as a 500.
    error = new AppError('payments_unavailable');
  }
  if (!error) {
    error = new AppError('internal_error');
    req.log.error({ err }, 'unhandled error');
  }
  if (error.status >= 500 && error.code !== 'internal_error')
    req.log.warn({ code: error.code }, error.message);
  if (res.headersSent) return res.destroy();
  const retryAfter = error.status === 429 ? (error.retryAfterSeconds ?? 60) : RETRY_AFTER_SECONDS[error.code];
  if (retryAfter) res.set('Retry-After', String(retryAfter));
  res.status(error.status);
  // A browser posting a hosted form sees the form again with the message; API clients get JSON.
  const page = res.locals.errorPage as ((error: AppError) => void) | undefined;
  if (page && wantsPage(req)) {
    try {
      return page(error);
    } catch (renderError) {
      req.log.error({ err: renderError }, 'error page failed');
    }
  }
  res.json(errorBody(error, String(req.id)));
};

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
