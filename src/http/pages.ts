import { readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { fromRoot } from '../infra/paths.js';

// Server-rendered pages for readers (they work without JavaScript). Each page is a template in
// templates/pages/ inside one layout; Handlebars escapes every value.

const hbs = Handlebars.create();
hbs.registerHelper('upper', (value: string) => String(value).toUpperCase());
hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
const cache = new Map<string, HandlebarsTemplateDelegate>();

function compiled(name: string): HandlebarsTemplateDelegate {
  let template = cache.get(name);
  if (!template) {
    template = hbs.compile(readFileSync(path.join(fromRoot('templates/pages'), `${name}.hbs`), 'utf8'));
    cache.set(name, template);
  }
  return template;
}

export function renderPage(
  name: string,
  data: { title: string; brandName: string } & Record<string, unknown>,
): string {
  return compiled('layout')({ ...data, body: compiled(name)(data) });
}
