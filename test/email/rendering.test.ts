import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailRenderer } from '../../src/email/renderer.js';
import { fromRoot } from '../../src/infra/paths.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

const brand = {
  name: 'Kyiv Weekly',
  logoUrl: 'https://cdn.kyivweekly.example/logo.png',
  primaryColor: '#0057b7',
  postalAddress: '12 Khreshchatyk St, Kyiv',
  footer: { en: 'You get this because you support Kyiv Weekly.' },
};
const renderer = createEmailRenderer({ templatesDir: fromRoot('templates/emails'), brand });
const confirmation = {
  name: '<script>alert("x")</script>',
  lists: ['Explaining <Ukraine> & more'],
  confirmUrl: 'https://members.test/confirm?token=abc&list=1',
};

describe('email rendering', () => {
  it('when a template is rendered, then it has a subject, an HTML part and a plain-text part', () => {
    const email = renderer.render('newsletter-confirmation', 'en', { ...confirmation, name: 'Olena' });
    expect(email.subject).toBe('Please confirm your subscription');
    expect(email.html).toMatch(/^<!doctype html>/i);
    expect(email.html).toContain('Olena, one more step');
    expect(email.text).toContain('Olena, one more step');
    expect(email.text).toContain('Confirm my subscription: https://members.test/confirm?token=abc&list=1');
    // Plain text is not HTML: no tags, and values appear as typed.
    expect(email.text).not.toMatch(/<(p|li|ul|h1|a)\b/);
  });

  it('when values contain markup, then the HTML shows them as text', () => {
    const email = renderer.render('newsletter-confirmation', 'en', confirmation);
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;, one more step');
    expect(email.html).toContain('Explaining &lt;Ukraine&gt; &amp; more');
    expect(email.html).toContain('href="https://members.test/confirm?token&#x3D;abc&amp;list&#x3D;1"');
  });

  it('when the reader reads Ukrainian, then the Ukrainian version is used; an unknown locale falls back to English', () => {
    expect(renderer.render('newsletter-confirmation', 'uk', confirmation).subject).toBe(
      'Підтвердіть підписку',
    );
    expect(renderer.render('newsletter-confirmation', 'de', confirmation).subject).toBe(
      'Please confirm your subscription',
    );
  });

  it('when a Ukrainian email is rendered, then its footer and unsubscribe link are Ukrainian too', () => {
    const email = renderer.render(
      'newsletter-welcome',
      'uk',
      {
        lists: ['Пояснюємо Україну'],
        preferencesUrl: 'https://members.test/p',
        dataUrl: 'https://members.test/d',
      },
      { unsubscribeUrl: 'https://members.test/u' },
    );
    expect(email.text).toContain('Ви отримали цей лист, бо підтримуєте незалежну журналістику.');
    expect(email.text).toContain('Відписатися: https://members.test/u');
    expect(email.text).not.toContain('You get this because');
    expect(email.html).toContain('Ви отримали цей лист');
  });

  it('when money is shown, then it is formatted from minor units for the reader locale', () => {
    const data = { amount: 123456, currency: 'EUR', paidAt: '2026-11-27T10:00:00Z', reference: 'ch_1' };
    expect(renderer.render('contribution-receipt', 'en', data).subject).toBe('Your receipt: €1,234.56');
    expect(renderer.render('contribution-receipt', 'uk', data).subject).toMatch(
      /^Ваша квитанція: 1\s234,56\sEUR$/,
    );
    expect(
      renderer.render('contribution-receipt', 'en', { ...data, amount: 500, currency: 'JPY' }).subject,
    ).toBe('Your receipt: JP¥500');
  });

  it('when any email is rendered, then the layout carries the configured branding, with CSS inlined', () => {
    const email = renderer.render('member-welcome', 'en', {
      planName: 'Monthly',
      accountUrl: 'https://members.test/account',
    });
    expect(email.html).toContain('<img src="https://cdn.kyivweekly.example/logo.png" alt="Kyiv Weekly"');
    expect(email.html).toContain('border-top: 4px solid #0057b7');
    expect(email.html).toMatch(/class="button"[^>]* style="[^"]*background: #0057b7/);
    expect(email.html).toContain('12 Khreshchatyk St, Kyiv');
    expect(email.text).toContain('Kyiv Weekly · 12 Khreshchatyk St, Kyiv');
    expect(email.text).toContain('You get this because you support Kyiv Weekly.');
  });

  it('when a subject value carries line breaks, then the subject stays one line', () => {
    const email = renderer.render('contribution-receipt', 'en', {
      amount: 100,
      currency: 'USD',
      paidAt: '2026-11-27T10:00:00Z',
      reference: 'x',
    });
    expect(email.subject).not.toMatch(/[\r\n]/);
  });
});

describe('template previews', () => {
  let app: TestApp;
  let production: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ config: testConfig({ EMAIL_PREVIEW_ROUTES: 'true' }) });
    production = await startTestApp();
  });
  afterAll(async () => {
    await app.close();
    await production.close();
  });

  it('when previews are on, then every template renders with sample data in each locale', async () => {
    const index = await (await fetch(`${app.url}/dev/emails`)).text();
    expect(index).toContain('/dev/emails/member-welcome?locale=uk');
    const html = await fetch(`${app.url}/dev/emails/member-welcome?locale=uk`);
    expect(html.status).toBe(200);
    expect(await html.text()).toContain('Вітаємо, Olena!');
    const text = await fetch(`${app.url}/dev/emails/contribution-receipt?part=text`);
    expect(await text.text()).toContain('We received your contribution of €25.00');
    expect((await fetch(`${app.url}/dev/emails/nope`)).status).toBe(404);
  });

  it('when previews are off (the default outside development), then the route does not exist', async () => {
    expect((await fetch(`${production.url}/dev/emails`)).status).toBe(404);
  });
});
