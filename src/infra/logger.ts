import { type Logger, pino } from 'pino';

export type { Logger };

// Secrets and personal tokens never reach logs: headers that carry credentials or signatures,
// and any field whose name says it is a secret, at the top of a logged object or up to two
// levels inside it. (Not `code`: error codes such as ECONNREFUSED, 11000 or resource_missing are
// what an operator needs; gift codes only travel in URLs, which redactUrl cleans.)
const SECRET_FIELDS = [
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'apiKey',
  'authorization',
];
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'req.headers["x-twilio-email-event-webhook-signature"]',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
];

export function createLogger(options: { level: string; destination?: NodeJS.WritableStream }): Logger {
  const settings = {
    level: options.level,
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

// Query parameters that carry a secret (magic links, gift codes, signatures), a reader's address
// (unsubscribe and my-data links: `e`) or what staff searched for (a reader's name: `q`).
const SENSITIVE_QUERY = /^(token|code|key|secret|signature|sig|e|email|q|search)$/i;
// Paths whose segment after the prefix is a reader's address (Express matches paths in any case),
// and any path segment that holds an address at all, encoded or not.
const PRIVATE_PATH = /^(\/admin\/newsletters\/readers\/)[^/?#]+/i;
const ADDRESS_SEGMENT = /(?<=\/)[^/?#]*(?:@|%40)[^/?#]*/gi;
const REDACTED = '[redacted]';

/** Strips secrets and readers' addresses from a URL before it is logged. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q))
    .replace(PRIVATE_PATH, `$1${REDACTED}`)
    .replace(ADDRESS_SEGMENT, REDACTED);
  if (q === -1) return path;
  const params = new URLSearchParams(url.slice(q + 1));
  // By name, and any name or value that holds an address, whatever it is called (a search's `q`).
  const kept = [...params].map(([name, value]) => [
    name.includes('@') ? REDACTED : name,
    SENSITIVE_QUERY.test(name) || value.includes('@') ? REDACTED : value,
  ]);
  return `${path}?${new URLSearchParams(kept).toString()}`;
}
