import { type Logger, pino } from 'pino';

export type { Logger };

// Secrets and personal tokens never reach logs: headers that carry credentials or signatures,
// and any field whose name says it is a secret, wherever it sits in a logged object.
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["stripe-signature"]',
  'req.headers["x-twilio-email-event-webhook-signature"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.code',
  '*.secret',
  '*.apiKey',
  '*.authorization',
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

const SENSITIVE_QUERY = /^(token|code|key|secret|signature|sig)$/i;

/** Strips the values of secret-bearing query parameters (magic links, gift codes) from a URL. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of [...params.keys()]) {
    if (SENSITIVE_QUERY.test(name)) params.set(name, '[redacted]');
  }
  return `${url.slice(0, q)}?${params.toString()}`;
}
