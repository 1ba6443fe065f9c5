import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { type Logger, redactUrl } from '../infra/logger.js';
import { AppError } from './errors.js';

const SAFE_REQUEST_ID = /^[\w.-]{8,64}$/;

/** The request id: a trusted proxy's X-Request-Id when it looks sane, else a new one. */
export function requestIdFor(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * One request header as `req.headers` would give it (repeated ones joined with ", "), read from
 * the raw list: Node builds `req.headers` on first use, which the progress fast path can skip.
 * Only for headers Node joins, not for those it keeps once (Host, Content-Type, …).
 */
export function rawHeader(req: IncomingMessage, lowerCaseName: string): string | undefined {
  const raw = req.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerCaseName.length && name.toLowerCase() === lowerCaseName)
      value = value === undefined ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  }
  return value;
}

/** Request id (see requestIdFor) and one log line per request. */
export function requestLogging(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const id = requestIdFor(req.headers['x-request-id']);
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel(_req, res) {
      // 500 is our fault; 503 (not configured, not ready) is a known state, already explained.
      if (res.statusCode === 500) return 'error';
      if (res.statusCode > 500) return 'warn';
      return 'info';
    },
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // Health probes every few seconds would drown the log.
    autoLogging: {
      ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics',
    },
  }) as unknown as RequestHandler;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A body we would not parse is refused up front, instead of arriving at a handler as `{}`. */
export const requireParsableBody: RequestHandler = (req, _res, next) => {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (
    BODY_METHODS.has(req.method) &&
    hasBody &&
    !req.is(['application/json', 'application/x-www-form-urlencoded'])
  ) {
    return next(new AppError('unsupported_media_type'));
  }
  next();
};
