import cors from 'cors';
import type { Request, Response } from 'express';

// Who may read our answers from another origin. Everything a news site embeds or a verifier
// fetches is public and read without credentials, so "any origin" is the only origin we name;
// no policy here allows credentials. The one answer read with the reader's cookie, by the
// newsroom's configured origins only, is the member answer (src/accounts/member-site.routes.ts).
// Everything else answers same-origin only (no CORS headers).

export const ALLOW_ORIGIN = 'Access-Control-Allow-Origin';
export const ANY_ORIGIN = '*';

/**
 * Public read-only answers any page may read: the campaign progress and its widget script, the
 * newsletter lists and form script, the sponsored count, the drive log's proofs and keys.
 * Mounted before the handler, so an error answer (a 404 the widget shows) carries it too.
 */
export const publicRead = cors({ origin: ANY_ORIGIN });

/**
 * The embedded newsletter form posts JSON from the news site: the preflight allows POST with a
 * content-type for 10 minutes; the POST's answer may be read from any origin. The preflight is
 * ended by `endPreflight`, not by the middleware, which would add a Content-Length to the 204.
 */
export const embeddedSignUp = cors({
  origin: ANY_ORIGIN,
  methods: 'POST',
  allowedHeaders: 'content-type',
  maxAge: 600,
  preflightContinue: true,
});

/** The answer to a preflight whose headers a policy above has set: 204, no body. */
export function endPreflight(_req: Request, res: Response): void {
  res.status(204).end();
}

/** publicRead inside a handler, for an answer that allows any origin only once it succeeds. */
export function allowAnyOrigin(req: Request, res: Response): void {
  publicRead(req, res, () => {});
}
