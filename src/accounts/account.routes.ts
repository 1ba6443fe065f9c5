import { parse as parseCookies } from 'cookie';
import { type Request, type Response, Router } from 'express';
import type Stripe from 'stripe';
import { z } from 'zod';
import { receiptsOfMember } from '../campaigns/drive-log/receipts.js';
import { formatMoney } from '../email/renderer.js';
import { AppError, errorBodySchema } from '../http/errors.js';
import { inFixedTime } from '../http/fixed-time.js';
import { errorsAsPage, wantsPage } from '../http/negotiate.js';
import type { ApiDocs } from '../http/openapi.js';
import { sendPage } from '../http/pages.js';
import { enforceRateLimit } from '../http/rate-limit.js';
import { refuseCrossSite } from '../http/same-origin.js';
import { emailField, parseInput } from '../http/validate.js';
import { INTL_LOCALE, type Locale, translate } from '../shared/messages.js';
import {
  type AccountDeps,
  accountOverview,
  billingPortalUrl,
  redeemSignInToken,
  requestSignInLink,
  SIGN_IN_LINK_MINUTES,
} from './account.service.js';
import { openCardUpdate, readCardLink } from './card-update.js';
import {
  endAllMemberSessions,
  endMemberSession,
  readMemberSession,
  SESSION_COOKIE,
  type SessionSettings,
  startMemberSession,
} from './member-session.js';

export interface AccountRoutesDeps extends AccountDeps {
  stripe: Stripe | null;
  /** Signs the dunning email's card links (src/accounts/card-update.ts). */
  linkSecret: string;
  sessions: SessionSettings;
  secureCookies: boolean;
  /** Sign-in requests per IP per 15 minutes. */
  signInLimitPerIp?: number;
  /**
   * Members and strangers get the same answer in the same time (SIGN_IN_ANSWER_MS, src/config/schema.ts
   * says why). The link is still queued before the answer, as a 202 promises.
   */
  signInAnswerMs: number;
}

const SAME_ANSWER = 'If this address belongs to a membership, we have sent it a sign-in link.';
const signInBody = z.object({ email: emailField }).meta({ id: 'SignInRequest' });
const tokenBody = z.object({ token: z.string().min(20).max(100) });

export function accountRoutes(deps: AccountRoutesDeps): Router {
  const router = Router();
  const page = (res: Response, name: string, data: Record<string, unknown>, status = 200) =>
    sendPage(res, name, { title: 'account.title', ...data }, status);
  const cookieOf = (req: Request) => parseCookies(req.headers.cookie ?? '')[SESSION_COOKIE];
  const memberOf = (req: Request) => readMemberSession(deps, cookieOf(req));
  const signedOut = (res: Response) => {
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/account');
  };
  // Sign-in requests and link redemptions share one allowance per IP, across processes.
  const signInLimit = (req: Request) =>
    enforceRateLimit(deps.db, deps.clock.now(), {
      key: `account-sign-in-ip:${req.ip}`,
      limit: deps.signInLimitPerIp ?? 20,
      windowMs: 15 * 60_000,
    });
  // Browsers see the sign-in form again, with what went wrong.
  const signInFormErrors = errorsAsPage((res, error) =>
    page(res, 'account-sign-in', { message: error.message, formPage: '/account' }, error.status),
  );

  // Every form under /account changes state, and is taken only from our own pages: another site
  // must not sign a reader out, nor sign them in to an account of its choosing (login CSRF).
  router.use(
    '/account',
    refuseCrossSite('This form was sent from another site. Open the account page and try again.'),
  );

  router.post('/account/sign-in', signInFormErrors, async (req, res) => {
    const { email } = parseInput(signInBody, req.body);
    await signInLimit(req);
    await inFixedTime(deps.signInAnswerMs, () => requestSignInLink(deps, email));
    if (wantsPage(req))
      return page(res, 'account-check-email', { message: SAME_ANSWER, minutes: SIGN_IN_LINK_MINUTES }, 202);
    res.status(202).json({ message: SAME_ANSWER });
  });

  // Opening the link changes nothing: mail scanners that follow links must not spend it, and
  // another site cannot sign anyone in with it (only our page's button posts it, checked above).
  router.get('/account/sign-in/verify', (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    page(res, 'account-verify', { token });
  });

  router.post('/account/sign-in/verify', signInFormErrors, async (req, res) => {
    const expired = new AppError(
      'invalid_link',
      'This sign-in link has expired or was already used. Ask for a new one below.',
    );
    const parsed = tokenBody.safeParse(req.body);
    if (!parsed.success) throw expired;
    await signInLimit(req);
    const memberId = await redeemSignInToken(deps, parsed.data.token);
    if (!memberId) throw expired;
    res.cookie(SESSION_COOKIE, await startMemberSession(deps, memberId, cookieOf(req)), {
      httpOnly: true,
      secure: deps.secureCookies,
      sameSite: 'lax',
      path: '/',
      maxAge: deps.sessions.days * 86_400_000,
    });
    res.redirect(303, '/account');
  });

  router.get('/account', async (req, res) => {
    const memberId = await memberOf(req);
    const overview = memberId ? await accountOverview(deps.db, memberId) : undefined;
    if (!overview) return page(res, 'account-sign-in', {});
    const { member, subscription } = overview;
    const locale = res.locals.locale as Locale;
    const date = (d?: Date | null) =>
      d
        ? new Intl.DateTimeFormat(INTL_LOCALE[locale], { dateStyle: 'long', timeZone: 'UTC' }).format(d)
        : undefined;
    const renews = subscription && subscription.status !== 'canceled' && !subscription.cancelAtPeriodEnd;
    // Stripe bills a paused subscription nothing until it resumes: no next payment to show.
    const paused = member.status === 'paused';
    page(res, 'account', {
      email: member.email,
      status: translate(locale, `account.status.${member.status}`),
      plan: subscription
        ? translate(locale, subscription.interval === 'year' ? 'account.plan.year' : 'account.plan.month', {
            plan: subscription.plan,
          })
        : undefined,
      amount: subscription
        ? formatMoney(subscription.amount, subscription.currency.toUpperCase(), locale)
        : undefined,
      paused,
      nextPaymentLabel: renews ? 'account.nextPayment' : 'account.ends',
      nextPayment: paused ? undefined : date(subscription?.currentPeriodEnd ?? member.currentPeriodEnd),
      canManageBilling: Boolean(member.stripeCustomerId && deps.stripe),
      receipts: await receiptsOfMember(deps.db, String(member._id), deps.publicBaseUrl),
    });
  });

  router.post('/account/billing-portal', async (req, res) => {
    const memberId = await memberOf(req);
    if (!memberId) throw new AppError('unauthorized');
    if (!deps.stripe) throw new AppError('payments_not_configured');
    const url = await billingPortalUrl({ ...deps, stripe: deps.stripe }, memberId);
    if (!url) throw new AppError('not_found', 'There is no billing account for this membership.');
    res.redirect(303, url);
  });

  // The dunning email's card link: a page with a button (opening changes nothing), then the portal.
  const cardLinkSpent = () =>
    new AppError(
      'invalid_link',
      'This card link has expired or was already used. Sign in below to update your card.',
    );
  const cardLinkErrors = errorsAsPage((res, error) =>
    page(res, 'account-sign-in', { message: error.message }, error.status),
  );
  router.get('/account/card', cardLinkErrors, (req, res) => {
    if (!readCardLink(deps.linkSecret, req.query, deps.clock.now())) throw cardLinkSpent();
    page(res, 'account-card', { query: req.query });
  });

  router.post('/account/card', cardLinkErrors, async (req, res) => {
    const link = readCardLink(deps.linkSecret, req.body ?? {}, deps.clock.now());
    if (!link) throw cardLinkSpent();
    if (!deps.stripe) throw new AppError('payments_not_configured');
    const url = await openCardUpdate({ ...deps, stripe: deps.stripe }, link);
    if (!url) throw cardLinkSpent();
    res.redirect(303, url);
  });

  router.post('/account/sign-out', async (req, res) => {
    await endMemberSession(deps.db, cookieOf(req));
    signedOut(res);
  });

  // Every browser's session of this member ends, this one's too (a lost phone, a shared computer).
  router.post('/account/sign-out-everywhere', async (req, res) => {
    const memberId = await memberOf(req);
    if (memberId) await endAllMemberSessions(deps.db, memberId, deps.clock.now());
    signedOut(res);
  });

  return router;
}

export function accountDocs(docs: ApiDocs): void {
  docs.registerPath({
    method: 'post',
    path: '/account/sign-in',
    tags: ['Member account'],
    summary: 'Email a single-use sign-in link (same answer whether or not the address is a member)',
    request: { body: { content: { 'application/json': { schema: signInBody } } } },
    responses: {
      202: {
        description: 'Accepted',
        content: { 'application/json': { schema: z.object({ message: z.string() }) } },
      },
      422: {
        description: 'Not an email address',
        content: { 'application/json': { schema: errorBodySchema } },
      },
      429: {
        description: 'Too many requests from this IP',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    },
  });
}
