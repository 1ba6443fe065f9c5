import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

// The membership form posted without JavaScript and shown again with an error still offers the
// other language.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

const post = (fields: Record<string, string>) =>
  fetch(`${app.url}/memberships/checkout`, {
    method: 'POST',
    headers: { accept: 'text/html' },
    body: new URLSearchParams(fields),
    redirect: 'manual',
  });

describe('the membership form without JavaScript', () => {
  it('when the form comes back with an error, then its language links lead to the same form', async () => {
    const res = await post({
      locale: 'uk',
      campaign: 'birthday',
      kind: 'membership',
      plan: 'supporter',
      interval: 'month',
      currency: 'usd',
      email: 'not-an-address',
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toMatch(/id="email-error"[^>]*>[^<]+</);
    // The same form in English or Ukrainian, with the campaign and the currency chosen.
    // The same form in English or Ukrainian, with the campaign and the currency chosen.
    const links = Object.fromEntries(
      [
        ...(html.match(/<nav class="locales".*?<\/nav>/s)?.[0] ?? '').matchAll(
          /href="([^"]+)" lang="(\w+)"/g,
        ),
      ].map((m) => [m[2], m[1]!.replaceAll('&#x3D;', '=').replaceAll('&amp;', '&')]),
    );
    expect(links).toEqual({
      en: '/membership?currency=usd&campaign=birthday&locale=en',
      uk: '/membership?currency=usd&campaign=birthday&locale=uk',
    });
    const english = await fetch(`${app.url}/membership?currency=usd&campaign=birthday&locale=en`);
    expect(english.status).toBe(200);
    expect(await english.text()).toContain('<html lang="en">');
  });
});
