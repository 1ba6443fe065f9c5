import { readFileSync } from 'node:fs';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { AppError } from '../http/errors.js';
import { inFixedTime } from '../http/fixed-time.js';
import { errorsAsPage, wantsPage } from '../http/negotiate.js';
import { emailField, parseInput } from '../http/validate.js';
import { fromRoot } from '../infra/paths.js';
import { messagesFor, translate } from '../shared/messages.js';
import {
  CONSENT_TEXT_VERSION,
  consentContext,
  formPage,
  messagePage,
  type NewsletterRoutesDeps,
  page,
  signUpLimit,
  THANK_YOU,
} from './newsletter-http.js';
import { confirm, resendConfirmation, subscribe } from './opt-in.service.js';

// The double opt-in's pages and endpoints: the form (and its script for the news site), the
// sign-up, the confirmation and its resend.

const listsField = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z.array(z.string()).min(1, translate('en', 'newsletters.chooseOne')).max(20),
);
export const subscribeSchema = z
  .object({
    email: emailField,
    lists: listsField,
    name: z.string().max(200).optional(),
    locale: z.enum(['en', 'uk']).optional(),
    sourcePage: z.string().max(500).optional(),
    consentTextVersion: z.string().max(40).default(CONSENT_TEXT_VERSION),
    website: z.string().optional().meta({ description: 'Honeypot: leave empty' }),
  })
  .meta({ id: 'NewsletterSignUp' });
const tokenSchema = z.object({ token: z.string().min(20).max(100) });

export function optInHandlers(deps: NewsletterRoutesDeps) {
  const listSlugs = new Set(deps.lists.map((l) => l.slug));

  function showForm(_req: Request, res: Response) {
    formPage(deps, res);
  }

  function visibleLists(_req: Request, res: Response) {
    res.set({ 'Cross-Origin-Resource-Policy': 'cross-origin', 'Cache-Control': 'public, max-age=300' });
    res.json({ lists: deps.lists.filter((l) => l.visible).map(({ sendgridListId: _, ...l }) => l) });
  }

  // The no-JavaScript form is shown again with the message and what the reader typed.
  const signUpErrors = errorsAsPage((res, error, req) =>
    formPage(
      deps,
      res,
      error.message,
      typeof req.body?.email === 'string' ? req.body.email : undefined,
      error.status,
    ),
  );

  async function signUp(req: Request, res: Response) {
    const parsed = subscribeSchema.safeParse(req.body);
    if (!parsed.success) {
      const invalidEmail = translate('en', 'embed.newsletter.invalid');
      const message = parsed.error.issues.some((i) => i.path[0] === 'email')
        ? invalidEmail
        : parsed.error.issues[0]!.message;
      throw new AppError(
        'validation_failed',
        message,
        parsed.error.issues.map((i) => ({
          path: i.path.join('.'),
          message: i.path[0] === 'email' ? invalidEmail : i.message,
        })),
      );
    }
    const input = parsed.data;
    const unknown = input.lists.filter((l) => !listSlugs.has(l));
    if (unknown.length)
      throw new AppError(
        'validation_failed',
        translate('en', 'newsletters.unknownLists', { lists: unknown.join(', ') }),
        [{ path: 'lists', message: translate('en', 'newsletters.unknownList') }],
      );
    const rateLimit = () => signUpLimit(deps, req);
    // A filled honeypot is a bot: it gets the same answer, and nothing happens. The same answer in
    // the same time: a confirmed address skips the writes a new one takes (5 ms against 9 to 15).
    await inFixedTime(deps.signUpAnswerMs, async () => {
      if (input.website) return rateLimit();
      const locale = input.locale ?? deps.lists.find((l) => l.slug === input.lists[0])?.language ?? 'en';
      await subscribe(
        deps,
        { email: input.email, lists: [...new Set(input.lists)], name: input.name, locale },
        consentContext(req, input.sourcePage, input.consentTextVersion),
        rateLimit,
      );
    });
    if (wantsPage(req))
      return messagePage(res, 'newsletters.thanks.heading', 'embed.newsletter.thanks', {}, 202);
    // The reader's language for the embed (its `locale`); the API's documented English otherwise.
    res
      .status(202)
      .json({ message: input.locale ? translate(input.locale, 'embed.newsletter.thanks') : THANK_YOU });
  }

  // Opening the link changes nothing (mail scanners open every link); the button confirms.
  function showConfirm(req: Request, res: Response) {
    page(res, 'newsletter-confirm', { token: typeof req.query.token === 'string' ? req.query.token : '' });
  }

  const confirmErrors = errorsAsPage((res, error, req) => {
    const expired = error.code === 'link_expired';
    messagePage(
      res,
      expired ? 'newsletters.link.expired.heading' : 'newsletters.link.invalid.heading',
      error.message,
      { resendToken: expired ? req.body?.token : undefined },
      error.status,
    );
  });

  async function confirmSubscription(req: Request, res: Response) {
    const parsed = tokenSchema.safeParse(req.body);
    const result = parsed.success
      ? await confirm(deps, parsed.data.token, consentContext(req))
      : ({ outcome: 'invalid' } as const);
    switch (result.outcome) {
      case 'confirmed':
        return messagePage(res, 'newsletters.confirmed.heading', 'newsletters.confirmed');
      case 'already_confirmed':
        return messagePage(res, 'newsletters.alreadyConfirmed.heading', 'newsletters.alreadyConfirmed');
      case 'expired':
        throw new AppError('link_expired', translate('en', 'newsletters.link.expired'));
      default:
        throw new AppError('invalid_link', translate('en', 'newsletters.link.invalid'));
    }
  }

  async function resend(req: Request, res: Response) {
    const { token } = parseInput(tokenSchema, req.body);
    // Each resend records consent asked again: the sign-up's allowance per IP bounds it too.
    await signUpLimit(deps, req);
    await resendConfirmation(deps, token, consentContext(req));
    messagePage(res, 'newsletters.resent.heading', 'newsletters.resent', {}, 202);
  }

  // The form's words are the message catalogue's, written into the script once at start.
  const formScript = readFileSync(fromRoot('templates/embed/newsletter-form.js'), 'utf8').replace(
    '/*@MESSAGES@*/ { en: {}, uk: {} }',
    JSON.stringify(messagesFor('embed.newsletter.')),
  );
  function embedScript(_req: Request, res: Response) {
    res.set({ 'Cross-Origin-Resource-Policy': 'cross-origin', 'Cache-Control': 'public, max-age=300' });
    res.type('application/javascript').send(formScript);
  }

  return {
    showForm,
    visibleLists,
    signUpErrors,
    signUp,
    showConfirm,
    confirmErrors,
    confirmSubscription,
    resend,
    embedScript,
  };
}
