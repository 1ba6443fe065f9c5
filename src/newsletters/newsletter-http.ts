import type { Request, Response } from 'express';
import { sendPage } from '../http/pages.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import { inLocale, isMessageKey, type Locale, type MessageKey, translate } from '../shared/messages.js';
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

/** What the API answers a sign-up without a `locale`: its documented English. */
export const THANK_YOU = translate('en', 'embed.newsletter.thanks');
/** Names the consent text (`newsletters.consent`, in each language) a reader agreed to. */
export const CONSENT_TEXT_VERSION = '2026-11';

/** Sign-ups and confirmation resends share one allowance per IP, across processes. */
export const signUpLimit = (deps: NewsletterRoutesDeps, req: Request) =>
  enforceRateLimit(deps.db, deps.clock.now(), {
    key: `newsletter-ip:${req.ip}`,
    limit: deps.subscribeLimitPerIp,
    windowMs: 10 * 60_000,
  });

export const page = (res: Response, name: string, data: Record<string, unknown>, status = 200) =>
  sendPage(res, name, { title: 'newsletters.title', ...data }, status);

/** A message page: heading and message from the catalogue, in the reader's language. */
export const messagePage = (
  res: Response,
  heading: MessageKey,
  message: string | MessageKey,
  extra: Record<string, unknown> = {},
  status = 200,
) => {
  const locale = res.locals.locale as Locale;
  page(
    res,
    'newsletter-message',
    {
      heading: translate(locale, heading),
      message: isMessageKey(message) ? translate(locale, message) : inLocale(locale, message),
      ...extra,
    },
    status,
  );
};

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
  // An error comes in English (as the API answers it): the page says it in the reader's language.
  page(
    res,
    'newsletter-form',
    {
      lists: deps.lists.filter((l) => l.visible),
      error: error && inLocale(res.locals.locale as Locale, error),
      email,
      consentText: translate(res.locals.locale as Locale, 'newsletters.consent'),
      consentTextVersion: CONSENT_TEXT_VERSION,
      sourcePage: '',
      formPage: '/newsletters',
    },
    status,
  );
