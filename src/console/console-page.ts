import type { Request, RequestHandler, Response } from 'express';
import type { AppError } from '../http/errors.js';
import { errorsAsPage } from '../http/negotiate.js';
import { type PageBrand, renderPage } from '../http/pages.js';
import type { ConsoleMessageKey } from '../shared/console-messages.js';
import {
  DEFAULT_LOCALE,
  inLocale,
  isMessageKey,
  LOCALES,
  type Locale,
  translate,
} from '../shared/messages.js';
import type { StaffRole } from '../staff/staff.model.js';
import type { StaffIdentity } from '../staff/staff-auth.service.js';

// The console's pages share one layout whose navigation shows each role only what it may open.
// A new page is one entry here (its label a catalogue key) and its words in
// src/shared/console-messages.ts; see src/console/README.md.

export const CONSOLE_SECTIONS: { id: string; label: ConsoleMessageKey; href: string; roles: StaffRole[] }[] =
  [
    {
      id: 'overview',
      label: 'console.nav.overview',
      href: '/console',
      roles: ['admin', 'finance', 'editor'],
    },
    {
      id: 'campaigns',
      label: 'console.nav.campaigns',
      href: '/console/campaigns',
      roles: ['admin', 'editor'],
    },
    { id: 'members', label: 'console.nav.members', href: '/console/members', roles: ['admin', 'finance'] },
    { id: 'sources', label: 'console.nav.sources', href: '/console/sources', roles: ['admin', 'finance'] },
    { id: 'reports', label: 'console.nav.reports', href: '/console/reports', roles: ['admin', 'finance'] },
    { id: 'webhooks', label: 'console.nav.webhooks', href: '/console/webhooks', roles: ['admin'] },
  ];

export const rolesFor = (section: string) => CONSOLE_SECTIONS.find((s) => s.id === section)!.roles;

/** The language the console answers this request in (console-locale.ts chose it). */
export const localeOf = (res: Response): Locale =>
  (res.locals.locale as Locale | undefined) ?? DEFAULT_LOCALE;

/** Sends a console page; `title` may be a catalogue key (a campaign's or member's name is not). */
export function sendConsolePage(
  res: Response,
  name: string,
  data: Record<string, unknown> & { title: string; section: string },
  status = 200,
): void {
  const staff = res.req.staff as StaffIdentity | undefined;
  const locale = localeOf(res);
  const nav = staff
    ? CONSOLE_SECTIONS.filter((s) => s.roles.includes(staff.role)).map((s) => ({
        href: s.href,
        label: translate(locale, s.label),
        current: s.id === data.section,
      }))
    : [];
  const title = isMessageKey(data.title) ? translate(locale, data.title) : data.title;
  res
    .status(status)
    .set('Cache-Control', 'no-store')
    .type('html')
    .send(
      renderPage(
        `console/${name}`,
        {
          localeLinks: localeLinks(res.req),
          ...data,
          title,
          staff,
          role: staff && translate(locale, `console.role.${staff.role}`),
          nav,
          locale,
          brand: res.locals.brand as PageBrand,
        },
        'console/layout',
      ),
    );
}

/** The same page in each language: a GET page's own address with `?lang=` (console-locale.ts). */
function localeLinks(req: Request): Record<string, string> {
  const page = req.method === 'GET' ? req.originalUrl : '/console';
  return Object.fromEntries(
    LOCALES.map((l) => {
      const url = new URL(page, 'http://page.invalid');
      url.searchParams.set('lang', l);
      return [l, `${url.pathname}${url.search}`];
    }),
  );
}

/**
 * How the console shows an error: not signed in → the sign-in form; a role without access → a page
 * saying who may use it; anything else → the message on the section's page.
 */
export function consoleErrors(
  section: string,
  render?: (res: Response, error: AppError, req: Request) => void,
): RequestHandler {
  return errorsAsPage((res, error, req) => {
    if (error.code === 'unauthorized')
      return sendConsolePage(
        res,
        'sign-in',
        { title: 'console.signIn.title', section, next: req.originalUrl },
        401,
      );
    if (error.code === 'forbidden') {
      const locale = localeOf(res);
      const roles = rolesFor(section).map((r) => translate(locale, `console.role.${r}`));
      return sendConsolePage(
        res,
        'forbidden',
        { title: 'console.forbidden.title', section, roles: roles.join(', ') },
        403,
      );
    }
    if (render) return render(res, error, req);
    sendConsolePage(
      res,
      'message',
      { title: 'console.error.title', section, message: inLocale(localeOf(res), error.message) },
      error.status,
    );
  });
}
