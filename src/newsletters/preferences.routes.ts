import type { Request, Response } from 'express';
import { z } from 'zod';
import { AppError } from '../http/errors.js';
import { errorsAsPage } from '../http/negotiate.js';
import { emailField, parseInput } from '../http/validate.js';
import { verifyLink } from '../infra/signed-links.js';
import { type Locale, translate } from '../shared/messages.js';
import { consentContext, messagePage, type NewsletterRoutesDeps, page } from './newsletter-http.js';
import { listSubscriptions, unsubscribe } from './preferences.service.js';

// The preferences page behind the signed link in every newsletter email, and unsubscribing
// (from the page, or in one click from the mail client).

const linkQuery = z.object({ e: emailField, sig: z.string().min(20).max(100), list: z.string().optional() });

export function preferencesHandlers(deps: NewsletterRoutesDeps) {
  const listName = (slug: string) => deps.lists.find((l) => l.slug === slug)?.name ?? slug;

  function verifiedEmail(req: Request): { email: string; list?: string } {
    const { e, sig, list } = parseInput(linkQuery, req.query);
    if (!verifyLink(deps.linkSecret, sig, 'unsubscribe', e))
      throw new AppError('forbidden', translate('en', 'error.link'));
    return { email: e, list };
  }

  async function showPreferences(req: Request, res: Response) {
    const { email } = verifiedEmail(req);
    const subscriptions = (await listSubscriptions(deps, email)).filter((s) => s.status !== 'unsubscribed');
    page(res, 'newsletter-preferences', {
      email,
      action: req.originalUrl,
      subscriptions: subscriptions.map((s) => ({ list: s.list, name: listName(s.list) })),
    });
  }

  // RFC 8058: mail clients POST "List-Unsubscribe=One-Click" to the URL itself, without cookies.
  async function unsubscribeFromLink(req: Request, res: Response) {
    const { email, list } = verifiedEmail(req);
    if (req.body?.['List-Unsubscribe'] === 'One-Click') {
      await unsubscribe(deps, email, list ? [list] : 'all', consentContext(req));
      return res.status(200).type('text/plain').send('Unsubscribed.');
    }
    const chosen = req.body?.all === 'true' ? 'all' : ([] as string[]).concat(req.body?.lists ?? []);
    const done = await unsubscribe(deps, email, chosen, consentContext(req));
    const locale = res.locals.locale as Locale;
    messagePage(
      res,
      'newsletters.unsubscribed.heading',
      done.length
        ? translate(locale, 'newsletters.unsubscribed', { lists: done.map(listName).join(', ') })
        : 'newsletters.unsubscribed.none',
    );
  }

  // A bad or cut link opened in a browser: a page saying so (a mail client's one-click POST gets JSON).
  const linkErrors = errorsAsPage((res, error) =>
    messagePage(res, 'newsletters.link.invalid.heading', 'newsletters.unsubscribe.invalid', {}, error.status),
  );

  return { showPreferences, unsubscribeFromLink, linkErrors };
}
