import { readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { fromRoot } from '../infra/paths.js';

// Server-rendered pages for readers (they work without JavaScript). Each page is a template in
// templates/pages/ inside one layout; Handlebars escapes every value.

const hbs = Handlebars.create();
hbs.registerHelper('upper', (value: string) => String(value).toUpperCase());
hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
// What went wrong with a form post, shown above the form again (see negotiate.ts).
hbs.registerPartial(
  'formError',
  '{{#if error}}<div role="alert" class="form-error"><p><strong>{{error.message}}</strong></p>' +
    '{{#if error.details}}<ul>{{#each error.details}}<li>{{#if path}}{{path}}: {{/if}}{{message}}</li>{{/each}}</ul>{{/if}}</div>{{/if}}',
);
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
  data: { title: string; brandName: string } & Record<string, unknown>,
): string {
  return compiled('layout')({ ...data, body: compiled(name)(data) });
}
