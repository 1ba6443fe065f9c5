import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { fromRoot } from '../../src/infra/paths.js';
import { isMessageKey, LOCALES, MESSAGES } from '../../src/shared/messages.js';

// Reader-facing words live in the message catalogue (src/shared/messages.ts), in every language:
// gift and newsletter code names catalogue keys, never an English sentence of its own, and a reader
// page's template says every word through {{t "key"}}.

const FOLDERS = ['src/gifts', 'src/newsletters'];
/** A sentence written where a reader will read it: a page's heading or message, an error's message, a form's rule. */
const READER_SENTENCE = [
  /\b(heading|message):\s*['"`][A-Z][a-z]+ [^'"`]*['"`]/g,
  /new AppError\(\s*'[a-z_]+',\s*['"`][A-Z][^'"`]*['"`]/g,
  /\.(min|max|refine)\([^)]*,\s*['"`][A-Z][a-z]+ [^'"`]*['"`]\)/g,
  /managePage\([^)]*,\s*['"`][A-Z][^'"`]*['"`]\)/g,
];

it('when the gift and newsletter code is read, then no reader-facing sentence is written in it, outside the catalogue', () => {
  const found: string[] = [];
  for (const folder of FOLDERS)
    for (const file of readdirSync(fromRoot(folder)).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(fromRoot(path.join(folder, file)), 'utf8');
      for (const pattern of READER_SENTENCE)
        for (const match of source.matchAll(pattern)) found.push(`${folder}/${file}: ${match[0]}`);
    }
  expect(found).toEqual([]);
});

/**
 * Reader page templates: templates/pages/*.hbs. The staff console (console/) has its own catalogue
 * test; dev/ pages are the development demo's news site and checkout stand-in, never a reader's.
 * No reader template is exempt.
 */
const READER_TEMPLATES = readdirSync(fromRoot('templates/pages')).filter((f) => f.endsWith('.hbs'));
/** Attributes a reader reads or hears; any other attribute's value is data, not words. */
const READ_ATTRIBUTES = /\s(title|alt|aria-label|placeholder)\s*=\s*"([^"]*)"/gi;

/**
 * The words a template shows outside {{t ...}}: text with letters between tags, and read attributes
 * with letters, once Handlebars comments and expressions, entities (&lt;), and the contents of
 * <script>, <style> and <code> (a command is not prose) are taken out.
 */
function wordsOutsideCatalogue(template: string): string[] {
  const markup = template
    .replace(/\{\{!--[\s\S]*?--\}\}|\{\{![\s\S]*?\}\}/g, '')
    .replace(/<(script|style|code)\b[^>]*>[\s\S]*?<\/\1>/gi, '')
    .replace(/\{\{\{[\s\S]*?\}\}\}|\{\{[\s\S]*?\}\}/g, '')
    .replace(/&[#\w]+;/g, '');
  const found: string[] = [];
  for (const tag of markup.match(/<[^>]*>/g) ?? [])
    for (const [attribute, , value] of tag.matchAll(READ_ATTRIBUTES))
      if (/\p{L}/u.test(value!)) found.push(attribute.trim());
  for (const text of markup.split(/<[^>]*>/)) if (/\p{L}/u.test(text)) found.push(text.trim());
  return found;
}

it('when a reader page template is read, then every word it shows comes from the catalogue', () => {
  const found = READER_TEMPLATES.flatMap((file) =>
    wordsOutsideCatalogue(readFileSync(fromRoot(`templates/pages/${file}`), 'utf8')).map(
      (words) => `${file}: ${words}`,
    ),
  );
  expect(found).toEqual([]);
});

it('when a template shows words outside the catalogue, then they are found; expressions, comments, scripts and data are not', () => {
  expect(
    wordsOutsideCatalogue(
      '<h1>{{t "a.b"}}</h1><p>Hello {{name}}</p><input placeholder="e.g. UA" value="Kyiv">' +
        '{{!-- a comment --}}<script>const x = "Words";</script><code>node bin/x.mjs</code>' +
        '<dd>{{a}} &lt;{{b}}&gt;</dd><img alt="{{t "c.d"}}"><a title="Open">{{t "e.f"}}</a>',
    ),
  ).toEqual(['placeholder="e.g. UA"', 'title="Open"', 'Hello']);
});

it('when a template names a message, then the catalogue has it', () => {
  const missing = READER_TEMPLATES.flatMap((file) =>
    [...readFileSync(fromRoot(`templates/pages/${file}`), 'utf8').matchAll(/\{\{t "([^"]+)"/g)]
      .map((m) => m[1]!)
      .filter((key) => !isMessageKey(key))
      .map((key) => `${file}: ${key}`),
  );
  expect(missing).toEqual([]);
});

it('when a reader page message is in the catalogue, then it is there in every language, not in English twice', () => {
  // Each language's own name is the same in every language; a {placeholder} alone has no words.
  const keys = Object.keys(MESSAGES.en).filter(
    (k) =>
      /^(gifts|newsletters|error|sponsorship|account|verify)\./.test(k) &&
      !/^\W*(\{\w+\}\W*)*$/.test(String(MESSAGES.en[k as keyof typeof MESSAGES.en])),
  );
  const untranslated = keys.filter((k) =>
    LOCALES.filter((l) => l !== 'en').some(
      (l) =>
        JSON.stringify(MESSAGES[l][k as keyof typeof MESSAGES.en]) ===
        JSON.stringify(MESSAGES.en[k as keyof typeof MESSAGES.en]),
    ),
  );
  expect(untranslated).toEqual([]);
});
