import { parse as parseCookies, serialize } from 'cookie';
import type { RequestHandler } from 'express';
import {
  DEFAULT_LOCALE,
  formatMoney,
  INTL_LOCALE,
  isLocale,
  LOCALES,
  type Locale,
} from '../shared/messages.js';

// The console's language is chosen as on reader pages: a language link, else Accept-Language. Two
// differences: the link's parameter is `?lang=`, because `locale` on a campaign's page is the
// previewed widget's language, not the console's; and a console session spans many pages, so the
// link's choice is remembered in a cookie and wins over Accept-Language on the next pages.

const COOKIE = 'md_console_locale';

export function consoleLocale(deps: { secureCookies: boolean }): RequestHandler {
  return (req, res, next) => {
    const asked = req.query.lang;
    if (isLocale(asked)) {
      res.append(
        'Set-Cookie',
        serialize(COOKIE, asked, {
          path: '/console',
          sameSite: 'lax',
          httpOnly: true,
          secure: deps.secureCookies,
          maxAge: 365 * 86_400,
        }),
      );
      res.locals.locale = asked;
    } else {
      const remembered = parseCookies(req.headers.cookie ?? '')[COOKIE];
      const accepted = req.acceptsLanguages(...LOCALES);
      res.locals.locale = isLocale(remembered) ? remembered : isLocale(accepted) ? accepted : DEFAULT_LOCALE;
    }
    next();
  };
}

/** Numbers, money and dates as the console's reader reads them, days cut in the newsroom's zone. */
export function consoleFormats(locale: Locale, timeZone: string) {
  const intl = INTL_LOCALE[locale];
  const number = new Intl.NumberFormat(intl);
  const percent = new Intl.NumberFormat(intl, { style: 'percent', maximumFractionDigits: 1 });
  const day = new Intl.DateTimeFormat(intl, { dateStyle: 'medium', timeZone: 'UTC' });
  const month = new Intl.DateTimeFormat(intl, { month: 'long', year: 'numeric', timeZone: 'UTC' });
  const instant = new Intl.DateTimeFormat(intl, { dateStyle: 'medium', timeZone });
  const moment = new Intl.DateTimeFormat(intl, { dateStyle: 'medium', timeStyle: 'short', timeZone });
  return {
    number: (n: number) => number.format(n),
    percent: (ratio: number) => percent.format(ratio),
    /** A calendar day key (YYYY-MM-DD), already cut in its zone. */
    day: (key: string) => day.format(new Date(`${key}T00:00:00Z`)),
    /** A calendar month key (YYYY-MM). */
    month: (key: string) => month.format(new Date(`${key}-01T00:00:00Z`)),
    /** A moment, as a date on the newsroom's clocks. */
    date: (at: Date | string) => instant.format(new Date(at)),
    /** A moment, as a date and time on the newsroom's clocks; nothing when there is none. */
    moment: (at: Date | string | null | undefined) => (at ? moment.format(new Date(at)) : ''),
    /** The same money format as reader pages (messages.ts). */
    money: (minor: number, currency: string) => formatMoney(minor, currency.toUpperCase(), locale),
  };
}
export type ConsoleFormats = ReturnType<typeof consoleFormats>;
