import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import Handlebars from 'handlebars';
import { fromRoot } from '../infra/paths.js';
import {
  DEFAULT_LOCALE,
  formatMoney,
  isLocale,
  isMessageKey,
  LOCALES,
  type Locale,
  translate,
} from '../shared/messages.js';

// Server-rendered pages for readers and staff (they work without JavaScript). Each page is a
// template in templates/pages/ inside one layout; Handlebars escapes every value. Words come from
// the one message catalogue (src/shared/messages.ts) through {{t "key"}} in the reader's language.

export interface PageBrand {
  name: string;
  logoUrl?: string;
  primaryColor: string;
}

const hbs = Handlebars.create();
hbs.registerHelper('upper', (value: string) => String(value).toUpperCase());
hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
hbs.registerHelper('json', (value: unknown) => JSON.stringify(value));
/** {{t "membership.title" count=3}}: the message in the page's language. */
hbs.registerHelper('t', (key: string, options: Handlebars.HelperOptions) => {
  const locale = (options.data.root.locale as Locale | undefined) ?? DEFAULT_LOCALE;
  if (!isMessageKey(key)) throw new Error(`no message "${key}" in the catalogue`);
  return translate(locale, key, options.hash);
});
hbs.registerHelper('money', (amount: number, currency: string, options: Handlebars.HelperOptions) =>
  formatMoney(amount, currency.toUpperCase(), options.data.root.locale ?? DEFAULT_LOCALE),
);
// What went wrong with a form post, shown above the form again (see negotiate.ts); each field's
// own problem is shown next to it (the fieldError partial), tied with aria-describedby.
hbs.registerPartial(
  'formError',
  '{{#if error}}<div role="alert" class="form-error" id="form-error" tabindex="-1"><p><strong>{{error.message}}</strong></p>' +
    '{{#if error.details}}<ul>{{#each error.details}}<li>{{#if path}}{{path}}: {{/if}}{{message}}</li>{{/each}}</ul>{{/if}}</div>{{/if}}',
);
hbs.registerPartial(
  'fieldError',
  '{{#if message}}<p class="error field-error" id="{{id}}-error">{{message}}</p>{{/if}}',
);
// Pieces several pages share (templates/pages/partials/<name>.hbs → {{> name}}).
for (const file of readdirSync(fromRoot('templates/pages/partials'))) {
  if (file.endsWith('.hbs'))
    hbs.registerPartial(
      file.slice(0, -4),
      readFileSync(path.join(fromRoot('templates/pages/partials'), file), 'utf8'),
    );
}
/** Escapes text for HTML and SVG built outside a template (charts, the progress image). */
export const escapeHtml: (text: string) => string = Handlebars.escapeExpression;

const cache = new Map<string, HandlebarsTemplateDelegate>();

function compiled(name: string): HandlebarsTemplateDelegate {
  let template = cache.get(name);
  if (!template) {
    template = hbs.compile(readFileSync(path.join(fromRoot('templates/pages'), `${name}.hbs`), 'utf8'));
    cache.set(name, template);
  }
  return template;
}

/** A whole document of its own, without our layout (the development /demo is the news site's page). */
export function renderDocument(name: string, data: Record<string, unknown>): string {
  return compiled(name)(data);
}

export function renderPage(
  name: string,
  data: { title: string; brand: PageBrand; locale?: Locale } & Record<string, unknown>,
  layout = 'layout',
): string {
  const withLocale = { locale: DEFAULT_LOCALE, ...data };
  return compiled(layout)({ ...withLocale, body: compiled(name)(withLocale) });
}

/**
 * The reader's language: `?locale=` first, then a form's `locale` field (the page they posted
 * from), then Accept-Language; English otherwise.
 */
export function requestLocale(req: Request): Locale {
  const asked = req.query.locale ?? (req.body as { locale?: unknown } | undefined)?.locale;
  if (isLocale(asked)) return asked;
  const accepted = req.acceptsLanguages(...LOCALES);
  return isLocale(accepted) ? accepted : DEFAULT_LOCALE;
}

/** Sets the reader's language and the brand for every page this app renders (createApp mounts it). */
export function pageContext(brand: PageBrand): RequestHandler {
  return (req, res, next) => {
    res.locals.locale = requestLocale(req);
    res.locals.brand = brand;
    next();
  };
}

/** Sends a page in the request's language with the brand; `title` may be a message key. */
export function sendPage(
  res: Response,
  name: string,
  data: Record<string, unknown> & { title: string },
  status = 200,
) {
  const locale = (res.locals.locale as Locale | undefined) ?? DEFAULT_LOCALE;
  const title = isMessageKey(data.title) ? translate(locale, data.title) : data.title;
  const req = res.req;
  // The same page in the other language: a GET page's own address, or for a form shown again after
  // a post, the address of the page the form is on (`formPage`), when the caller names it.
  const page = req.method === 'GET' ? req.originalUrl : data.formPage;
  const localeLinks =
    typeof page === 'string'
      ? Object.fromEntries(
          LOCALES.map((l) => {
            const url = new URL(page, 'http://page.invalid');
            url.searchParams.set('locale', l);
            return [l, `${url.pathname}${url.search}`];
          }),
        )
      : undefined;
  res
    .status(status)
    .type('html')
    .send(renderPage(name, { localeLinks, ...data, title, locale, brand: res.locals.brand as PageBrand }));
}

/**
 * An error's field problems as `{ [field]: message }`, in the page's language where the catalogue
 * knows the field, for the form to show next to each field.
 */
export function fieldErrorsOf(
  details: { path?: string; message: string }[] | undefined,
  locale: Locale,
): Record<string, string> {
  const byField: Record<string, string> = {};
  for (const detail of details ?? []) {
    if (!detail.path || byField[detail.path]) continue;
    byField[detail.path] = detail.path === 'email' ? translate(locale, 'error.email') : detail.message;
  }
  return byField;
}
