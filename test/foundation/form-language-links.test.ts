import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A reader's form posted without JavaScript and shown again with an error still offers the other
// language, leading to the same form (src/http/pages.ts, `formPage`). The membership form has its
// own test (test/memberships/membership-form-errors.test.ts).

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

/** The page's language links, as `{ en, uk }`. */
function languageLinks(html: string): Record<string, string> {
  const nav = html.match(/<nav class="locales".*?<\/nav>/s)?.[0] ?? '';
  return Object.fromEntries(
    [...nav.matchAll(/href="([^"]+)" lang="(\w+)"/g)].map((m) => [
      m[2],
      m[1]!.replaceAll('&#x3D;', '=').replaceAll('&amp;', '&'),
    ]),
  );
}

const forms: { name: string; action: string; fields: Record<string, string>; page: string }[] = [
  {
    name: 'the gift form',
    action: '/gifts/checkout',
    fields: { campaign: 'birthday', purchaserEmail: 'not-an-address' },
    page: '/gifts?campaign=birthday',
  },
  {
    name: 'the newsletter sign-up',
    action: '/newsletters/subscriptions',
    fields: { email: 'nope' },
    page: '/newsletters',
  },
  { name: 'the account sign-in', action: '/account/sign-in', fields: { email: 'nope' }, page: '/account' },
];

describe('reader forms without JavaScript', () => {
  for (const form of forms) {
    it(`when ${form.name} comes back with an error, then its language links lead to the same form`, async () => {
      const res = await fetch(`${app.url}${form.action}`, {
        method: 'POST',
        headers: { accept: 'text/html', 'sec-fetch-site': 'same-origin' },
        body: new URLSearchParams({ locale: 'uk', ...form.fields }),
        redirect: 'manual',
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      const html = await res.text();
      expect(html).toContain('<html lang="uk">');
      const sep = form.page.includes('?') ? '&' : '?';
      expect(languageLinks(html)).toEqual({
        en: `${form.page}${sep}locale=en`,
        uk: `${form.page}${sep}locale=uk`,
      });
      const english = await fetch(`${app.url}${form.page}${sep}locale=en`);
      expect(english.status).toBe(200);
      expect(await english.text()).toContain('<html lang="en">');
    });
  }
});
