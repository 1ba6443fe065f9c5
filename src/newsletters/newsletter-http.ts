import type { Request, Response } from 'express';
import { sendPage } from '../http/pages.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import type { StaffAuthConfig } from '../staff/staff-auth.service.js';
import type { ConsentContext, NewsletterDeps } from './newsletter.service.js';

// What the newsletter route handlers share: their dependencies, the page frame, the consent
// context of a request, and the sign-up allowance per IP.

export interface NewsletterRoutesDeps extends NewsletterDeps {
  staffAuth: StaffAuthConfig;
  /** Sign-up requests per IP per 10 minutes, counted across all processes. */
  subscribeLimitPerIp: number;
  /** Sign-ups answer no sooner than this (SIGNUP_ANSWER_MS, src/config/schema.ts says why). */
  signUpAnswerMs: number;
}

export const THANK_YOU = "Thank you for signing up for this newsletter. We've sent you a confirmation email.";
export const CONSENT_TEXT_VERSION = '2026-11';
const CONSENT_TEXT = 'We will email you the newsletters you chose. Unsubscribe at any time with one click.';

/** Sign-ups and confirmation resends share one allowance per IP, across processes. */
export const signUpLimit = (deps: NewsletterRoutesDeps, req: Request) =>
  enforceRateLimit(deps.db, deps.clock.now(), {
    key: `newsletter-ip:${req.ip}`,
    limit: deps.subscribeLimitPerIp,
    windowMs: 10 * 60_000,
  });

export const page = (res: Response, name: string, data: Record<string, unknown>, status = 200) =>
  sendPage(res, name, { title: 'newsletters.title', ...data }, status);

export const consentContext = (
  req: Request,
  sourcePage?: string,
  consentTextVersion?: string,
): ConsentContext => ({
  ip: req.ip,
  userAgent: req.get('user-agent')?.slice(0, 300),
  sourcePage: sourcePage ?? req.get('referer')?.slice(0, 500),
  consentTextVersion,
});

export const formPage = (
  deps: NewsletterRoutesDeps,
  res: Response,
  error?: string,
  email?: string,
  status = 200,
) =>
  page(
    res,
    'newsletter-form',
    {
      lists: deps.lists.filter((l) => l.visible),
      error,
      email,
      consentText: CONSENT_TEXT,
      consentTextVersion: CONSENT_TEXT_VERSION,
      sourcePage: '',
    },
    status,
  );
