import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import juice from 'juice';
import {
  DEFAULT_LOCALE,
  formatMoney,
  INTL_LOCALE,
  LOCALES,
  type Locale,
  translate,
} from '../shared/messages.js';
import { EMAIL_TEMPLATES, type TemplateName } from './catalog.js';

export interface Brand {
  name: string;
  logoUrl?: string;
  primaryColor: string;
  postalAddress: string;
  /** Footer line per language; a language without one uses the message catalogue's. */
  footer: Partial<Record<Locale, string>>;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export interface EmailRenderer {
  render(
    template: TemplateName,
    locale: string,
    data: unknown,
    options?: { unsubscribeUrl?: string },
  ): RenderedEmail;
}

type Compiled = {
  subject: HandlebarsTemplateDelegate;
  html: HandlebarsTemplateDelegate;
  text: HandlebarsTemplateDelegate;
};

/**
 * Compiles every template once at start. HTML parts escape values by default ({{name}}), text
 * parts and subjects are plain text and do not; the shared layout carries the branding and the
 * CSS is inlined for mail clients that ignore <style>.
 */
export function createEmailRenderer(options: { templatesDir: string; brand: Brand }): EmailRenderer {
  const { templatesDir, brand } = options;
  const hbs = Handlebars.create();
  hbs.registerHelper('money', function (this: unknown, amount: number, currency: string, helperOptions) {
    return formatMoney(amount, currency, helperOptions.data.root.locale);
  });
  hbs.registerHelper('date', (iso: string, helperOptions) =>
    new Intl.DateTimeFormat(INTL_LOCALE[helperOptions.data.root.locale as Locale], {
      dateStyle: 'long',
    }).format(new Date(iso)),
  );

  const read = (...parts: string[]) => readFileSync(path.join(templatesDir, ...parts), 'utf8');
  const htmlLayout = hbs.compile(read('layout.html.hbs'));
  const textLayout = hbs.compile(read('layout.text.hbs'), { noEscape: true });

  const compiled = new Map<string, Compiled>();
  for (const template of Object.keys(EMAIL_TEMPLATES)) {
    for (const locale of LOCALES) {
      if (!existsSync(path.join(templatesDir, template, `${locale}.html.hbs`))) {
        if (locale === DEFAULT_LOCALE) throw new Error(`email template ${template} has no ${locale} version`);
        continue;
      }
      compiled.set(`${template}/${locale}`, {
        subject: hbs.compile(read(template, `${locale}.subject.hbs`).trim(), { noEscape: true }),
        html: hbs.compile(read(template, `${locale}.html.hbs`)),
        text: hbs.compile(read(template, `${locale}.text.hbs`), { noEscape: true }),
      });
    }
  }

  return {
    render(template, requestedLocale, data, renderOptions = {}) {
      const locale = (LOCALES as readonly string[]).includes(requestedLocale)
        ? (requestedLocale as Locale)
        : DEFAULT_LOCALE;
      const parts = compiled.get(`${template}/${locale}`) ?? compiled.get(`${template}/${DEFAULT_LOCALE}`)!;
      const usedLocale = compiled.has(`${template}/${locale}`) ? locale : DEFAULT_LOCALE;
      const context = { ...(data as object), locale: usedLocale };
      // A subject is one header line: no line breaks can be smuggled in through data.
      const subject = parts
        .subject(context)
        .replace(/[\r\n]+/g, ' ')
        .trim();
      const shared = {
        brand,
        locale: usedLocale,
        subject,
        unsubscribeUrl: renderOptions.unsubscribeUrl,
        footer: brand.footer[usedLocale] ?? translate(usedLocale, 'email.footer'),
        t: { unsubscribe: translate(usedLocale, 'email.unsubscribe') },
      };
      const html = juice(htmlLayout({ ...shared, body: parts.html(context) }));
      const text = textLayout({ ...shared, body: parts.text(context).trim() }).trim();
      return { subject, html, text: `${text}\n` };
    },
  };
}

export { formatMoney };
