import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONSOLE_SECTIONS } from '../../src/console/console-page.js';
import { ERROR_CATALOG } from '../../src/http/errors.js';
import { fromRoot } from '../../src/infra/paths.js';
import { isMessageKey, LOCALES, MESSAGES } from '../../src/shared/messages.js';

// The console speaks through the one catalogue: its templates hold no words of their own, every key
// they name exists, and every console key has its Ukrainian text.

// Every console template is read, the webhook and sources pages included.
const CONSOLE_TEMPLATES = [
  ...readdirSync(fromRoot('templates/pages/console')).map((f) => `templates/pages/console/${f}`),
  'templates/pages/partials/campaign-fields.hbs',
  'templates/pages/partials/console-drive.hbs',
];
/** Names of the languages, written in their own language on purpose. */
const ALLOWED = new Set(['English', 'Українська']);

/** The words a reader sees that do not come from a {{…}} expression. */
function wordsOutsideExpressions(source: string): string[] {
  const text = source
    .replace(/\{\{!--[\s\S]*?--\}\}/g, ' ')
    .replace(/\{\{[\s\S]*?\}\}/g, ' ')
    .replace(/<(script|style)[\s\S]*?<\/\1>/g, ' ')
    // Attributes a person reads (alt, title, aria-label) count as words.
    .replace(
      /<[^>]*>/g,
      (tag) => ` ${[...tag.matchAll(/\b(?:alt|title|aria-label)="([^"]*)"/g)].map((m) => m[1]).join(' ')} `,
    );
  return (text.match(/\p{L}[\p{L}'’-]*/gu) ?? []).filter((w) => !ALLOWED.has(w));
}

describe('the console in the catalogue', () => {
  it('when the webhook and sources pages are listed, then their templates are among those read', () => {
    const read = CONSOLE_TEMPLATES.map((f) => path.basename(f));
    for (const page of [
      'sources.hbs',
      'webhook-new.hbs',
      'webhook-secret.hbs',
      'webhook.hbs',
      'webhooks.hbs',
    ])
      expect(read).toContain(page);
  });

  it('when the console templates are read, then no word is written outside the catalogue', () => {
    const found = CONSOLE_TEMPLATES.flatMap((file) =>
      wordsOutsideExpressions(readFileSync(fromRoot(file), 'utf8')).map(
        (w) => `${path.basename(file)}: ${w}`,
      ),
    );
    expect(found).toEqual([]);
  });

  it('when the console templates and navigation name a key, then the catalogue has it in every language', () => {
    const keys = CONSOLE_TEMPLATES.flatMap((file) =>
      [...readFileSync(fromRoot(file), 'utf8').matchAll(/\(?t "([\w.]+)"/g)].map((m) => m[1]!),
    ).concat(CONSOLE_SECTIONS.map((s) => s.label));
    expect(keys.filter((k) => !isMessageKey(k))).toEqual([]);
    const consoleKeys = Object.keys(MESSAGES.en).filter((k) => k.startsWith('console.'));
    for (const locale of LOCALES) expect(consoleKeys.filter((k) => !(k in MESSAGES[locale]))).toEqual([]);
    // Ukrainian is not English copied over (names and codes may stay the same).
    const same = consoleKeys.filter(
      (k) => JSON.stringify(MESSAGES.uk[k as never]) === JSON.stringify(MESSAGES.en[k as never]),
    );
    expect(same).toEqual([
      'console.signedInAs',
      'console.reports.campaignOption',
      'console.campaign.iframe',
      'console.member.stripe',
      'console.webhooks.webhookId',
    ]);
  });

  it('when a console key carries an error message, then its English is the text thrown, so inLocale() finds it', () => {
    // inLocale() matches text exactly: a reworded error would silently stay English.
    const thrown = [
      ...Object.values(ERROR_CATALOG).map(([, message]) => message),
      ...['endpoints.service.ts', 'deliveries.service.ts'].flatMap((file) =>
        [
          ...readFileSync(fromRoot(`src/integrations/${file}`), 'utf8').matchAll(
            /(?:AppError\('\w+', |message: )'([^']+)'/g,
          ),
        ].map((m) => m[1]!),
      ),
    ];
    const errorKeys = [
      'console.error.notFound',
      'console.error.validationFailed',
      'console.error.conflict',
      'console.webhooks.urlInvalid',
      'console.webhooks.slackNoSecret',
      'console.webhooks.rotationUnderWay',
      'console.webhooks.endpointGone',
      'console.webhooks.deliveryNotFound',
      'console.webhooks.endpointNotFound',
    ] as const;
    expect(errorKeys.filter((k) => !thrown.includes(MESSAGES.en[k] as string))).toEqual([]);
  });
});
