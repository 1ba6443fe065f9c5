import { readFileSync } from 'node:fs';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { AppError, errorBodySchema } from '../http/errors.js';
import { inFixedTime } from '../http/fixed-time.js';
import { errorsAsPage, wantsPage } from '../http/negotiate.js';
import type { ApiDocs } from '../http/openapi.js';
import { sendPage } from '../http/pages.js';
import { emailField, parseInput } from '../http/validate.js';
import { fromRoot } from '../infra/paths.js';
import { enforceRateLimit } from '../infra/rate-limit.js';
import { verifyLink } from '../infra/signed-links.js';
import { messagesFor, translate } from '../shared/messages.js';
import { requireRole } from '../staff/require-role.js';
import type { StaffAuthConfig } from '../staff/staff-auth.service.js';
import { newsletterModels } from './newsletter.model.js';
import {
  type ConsentContext,
  confirm,
  deleteReaderData,
  exportReaderData,
  listSubscriptions,
  type NewsletterDeps,
  subscribe,
  unsubscribe,
} from './newsletter.service.js';

export const THANK_YOU = "Thank you for signing up for this newsletter. We've sent you a confirmation email.";
export const CONSENT_TEXT_VERSION = '2026-11';
const CONSENT_TEXT = 'We will email you the newsletters you chose. Unsubscribe at any time with one click.';

export interface NewsletterRoutesDeps extends NewsletterDeps {
  staffAuth: StaffAuthConfig;
  /** Sign-up requests per IP per 10 minutes, counted across all processes. */
  subscribeLimitPerIp: number;
  /** Sign-ups answer no sooner than this (SIGNUP_ANSWER_MS, src/config/schema.ts says why). */
  signUpAnswerMs: number;
}

const listsField = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z.array(z.string()).min(1, 'Choose at least one newsletter').max(20),
);
const subscribeSchema = z
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
const linkQuery = z.object({ e: emailField, sig: z.string().min(20).max(100), list: z.string().optional() });

export function newsletterRoutes(deps: NewsletterRoutesDeps): Router {
  const router = Router();
  // Sign-ups and confirmation resends share one allowance per IP, across processes.
  const signUpLimit = (req: Request) =>
    enforceRateLimit(deps.db, deps.clock.now(), {
      key: `newsletter-ip:${req.ip}`,
      limit: deps.subscribeLimitPerIp,
      windowMs: 10 * 60_000,
    });
  const listSlugs = new Set(deps.lists.map((l) => l.slug));
  const page = (res: Response, name: string, data: Record<string, unknown>, status = 200) =>
    sendPage(res, name, { title: 'newsletters.title', ...data }, status);
  const context = (req: Request, sourcePage?: string, consentTextVersion?: string): ConsentContext => ({
    ip: req.ip,
    userAgent: req.get('user-agent')?.slice(0, 300),
    sourcePage: sourcePage ?? req.get('referer')?.slice(0, 500),
    consentTextVersion,
  });
  const formPage = (res: Response, error?: string, email?: string, status = 200) =>
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

  router.get('/newsletters', (_req, res) => formPage(res));

  // The embedded form posts JSON from the news site's origin: open CORS, never credentials.
  const cors = (res: Response) =>
    res.set({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'POST',
      'Access-Control-Allow-Headers': 'content-type',
      'Access-Control-Max-Age': '600',
    });
  router.options('/newsletters/subscriptions', (_req, res) => {
    cors(res).status(204).end();
  });
  router.get('/newsletters/lists', (_req, res) => {
    res.set({
      'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': 'public, max-age=300',
    });
    res.json({ lists: deps.lists.filter((l) => l.visible).map(({ sendgridListId: _, ...l }) => l) });
  });

  // The no-JavaScript form is shown again with the message and what the reader typed.
  const signUpErrors = errorsAsPage((res, error, req) =>
    formPage(
      res,
      error.message,
      typeof req.body?.email === 'string' ? req.body.email : undefined,
      error.status,
    ),
  );
  router.post('/newsletters/subscriptions', signUpErrors, async (req, res) => {
    cors(res);
    const parsed = subscribeSchema.safeParse(req.body);
    if (!parsed.success) {
      const message = parsed.error.issues.some((i) => i.path[0] === 'email')
        ? 'Please enter a correct email address'
        : parsed.error.issues[0]!.message;
      throw new AppError(
        'validation_failed',
        message,
        parsed.error.issues.map((i) => ({
          path: i.path.join('.'),
          message: i.path[0] === 'email' ? 'Please enter a correct email address' : i.message,
        })),
      );
    }
    const input = parsed.data;
    const unknown = input.lists.filter((l) => !listSlugs.has(l));
    if (unknown.length)
      throw new AppError('validation_failed', `Unknown newsletter: ${unknown.join(', ')}`, [
        { path: 'lists', message: 'Unknown newsletter' },
      ]);
    const rateLimit = () => signUpLimit(req);
    // A filled honeypot is a bot: it gets the same answer, and nothing happens. The same answer in
    // the same time: a confirmed address skips the writes a new one takes (5 ms against 9 to 15).
    await inFixedTime(deps.signUpAnswerMs, async () => {
      if (input.website) return rateLimit();
      const locale = input.locale ?? deps.lists.find((l) => l.slug === input.lists[0])?.language ?? 'en';
      await subscribe(
        deps,
        { email: input.email, lists: [...new Set(input.lists)], name: input.name, locale },
        context(req, input.sourcePage, input.consentTextVersion),
        rateLimit,
      );
    });
    if (wantsPage(req))
      return page(res, 'newsletter-message', { heading: 'Thank you!', message: THANK_YOU }, 202);
    // The reader's language for the embed (its `locale`); the API's documented English otherwise.
    res
      .status(202)
      .json({ message: input.locale ? translate(input.locale, 'embed.newsletter.thanks') : THANK_YOU });
  });

  // Opening the link changes nothing (mail scanners open every link); the button confirms.
  router.get('/newsletters/confirm', (req, res) => {
    page(res, 'newsletter-confirm', { token: typeof req.query.token === 'string' ? req.query.token : '' });
  });

  const confirmErrors = errorsAsPage((res, error, req) =>
    page(
      res,
      'newsletter-message',
      {
        heading: error.code === 'link_expired' ? 'This link has expired' : 'This link is not valid',
        message: error.message,
        resendToken: error.code === 'link_expired' ? req.body?.token : undefined,
      },
      error.status,
    ),
  );
  router.post('/newsletters/confirm', confirmErrors, async (req, res) => {
    const parsed = tokenSchema.safeParse(req.body);
    const result = parsed.success
      ? await confirm(deps, parsed.data.token, context(req))
      : ({ outcome: 'invalid' } as const);
    switch (result.outcome) {
      case 'confirmed':
        return page(res, 'newsletter-message', {
          heading: 'You are subscribed',
          message: 'Thank you for confirming. Your first newsletter is on its way soon.',
        });
      case 'already_confirmed':
        return page(res, 'newsletter-message', {
          heading: 'Already confirmed',
          message: 'You had already confirmed this subscription. Nothing more to do.',
        });
      case 'expired':
        throw new AppError(
          'link_expired',
          'Confirmation links work for a limited time. We can send you a new one.',
        );
      default:
        throw new AppError('invalid_link', 'Please sign up again from the newsletter form.');
    }
  });

  router.post('/newsletters/confirm/resend', async (req, res) => {
    const { token } = parseInput(tokenSchema, req.body);
    // Each resend records consent asked again: the sign-up's allowance per IP bounds it too.
    await signUpLimit(req);
    const { createHash } = await import('node:crypto');
    const stored = await newsletterModels(deps.db)
      .Token.findById(createHash('sha256').update(token).digest('hex'))
      .lean();
    if (stored)
      await subscribe(deps, { email: stored.email, lists: stored.lists, locale: 'en' }, context(req));
    page(
      res,
      'newsletter-message',
      {
        heading: 'Check your email',
        message: 'If that link was ours, a new confirmation email is on its way.',
      },
      202,
    );
  });

  function verifiedEmail(req: Request): { email: string; list?: string } {
    const { e, sig, list } = parseInput(linkQuery, req.query);
    if (!verifyLink(deps.linkSecret, sig, 'unsubscribe', e))
      throw new AppError('forbidden', 'This link is not valid.');
    return { email: e, list };
  }

  router.get('/newsletters/unsubscribe', async (req, res) => {
    const { email } = verifiedEmail(req);
    const subscriptions = (await listSubscriptions(deps, email)).filter((s) => s.status !== 'unsubscribed');
    page(res, 'newsletter-preferences', {
      email,
      action: req.originalUrl,
      subscriptions: subscriptions.map((s) => ({
        list: s.list,
        name: deps.lists.find((l) => l.slug === s.list)?.name ?? s.list,
      })),
    });
  });

  // RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to the URL itself, without cookies.
  router.post('/newsletters/unsubscribe', async (req, res) => {
    const { email, list } = verifiedEmail(req);
    if (req.body?.['List-Unsubscribe'] === 'One-Click') {
      await unsubscribe(deps, email, list ? [list] : 'all', context(req));
      return res.status(200).type('text/plain').send('Unsubscribed.');
    }
    const chosen = req.body?.all === 'true' ? 'all' : ([] as string[]).concat(req.body?.lists ?? []);
    const done = await unsubscribe(deps, email, chosen, context(req));
    page(res, 'newsletter-message', {
      heading: 'You are unsubscribed',
      message: done.length
        ? `You will no longer receive: ${done.map((s) => deps.lists.find((l) => l.slug === s)?.name ?? s).join(', ')}.`
        : 'There was nothing to unsubscribe from.',
    });
  });

  function verifiedDataLink(source: Record<string, unknown>): string {
    const { e, exp, sig } = parseInput(
      z.object({ e: emailField, exp: z.coerce.number().int(), sig: z.string().min(20).max(100) }),
      source,
    );
    if (
      !verifyLink(deps.linkSecret, sig, 'my-data', e, String(exp)) ||
      exp * 1000 < deps.clock.now().getTime()
    ) {
      throw new AppError('forbidden', 'This link is not valid or has expired.');
    }
    return e;
  }

  router.get('/newsletters/my-data', async (req, res) => {
    const email = verifiedDataLink(req.query);
    res
      .set('Content-Disposition', 'attachment; filename="my-newsletter-data.json"')
      .json(await exportReaderData(deps.db, email));
  });

  router.post('/newsletters/my-data/delete', async (req, res) => {
    const email = verifiedDataLink({ ...req.query, ...req.body });
    await deleteReaderData(deps.db, email);
    page(res, 'newsletter-message', {
      heading: 'Your data is deleted',
      message: 'We no longer hold any newsletter data about this address.',
    });
  });

  const admin = requireRole({ auth: deps.staffAuth, clock: deps.clock }, 'admin');
  router.get('/admin/newsletters/readers/:email', admin, async (req, res) => {
    res.json(await exportReaderData(deps.db, parseInput(emailField, req.params.email)));
  });
  router.delete('/admin/newsletters/readers/:email', admin, async (req, res) => {
    await deleteReaderData(deps.db, parseInput(emailField, req.params.email));
    res.status(204).end();
  });

  // The form's words are the message catalogue's, written into the script once at start.
  const formScript = readFileSync(fromRoot('templates/embed/newsletter-form.js'), 'utf8').replace(
    '/*@MESSAGES@*/ { en: {}, uk: {} }',
    JSON.stringify(messagesFor('embed.newsletter.')),
  );
  router.get('/embed/newsletter-form.js', (_req, res) => {
    res.set({
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Access-Control-Allow-Origin': '*',
      'Cache-Control': 'public, max-age=300',
    });
    res.type('application/javascript').send(formScript);
  });

  return router;
}

export function newsletterDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'post',
    path: '/newsletters/subscriptions',
    tags: ['Newsletters'],
    summary: 'Sign up (double opt-in). The same 202 whether or not the address is known.',
    request: { body: { content: { 'application/json': { schema: subscribeSchema } } } },
    responses: {
      202: {
        description: 'Accepted',
        content: { 'application/json': { schema: z.object({ message: z.literal(THANK_YOU) }) } },
      },
      422: {
        description: 'Invalid email or unknown list',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      429: {
        description: 'Too many sign-ups from this IP',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
