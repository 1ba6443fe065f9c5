import { brotliCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Requests that used to end in 500 or in an answer the client could not read.

let app: TestApp;
let noStripe: TestApp;

beforeAll(async () => {
  app = await startTestApp();
  noStripe = await startTestApp({ deps: { stripe: null } });
});
afterAll(async () => {
  await app.close();
  await noStripe.close();
});

const JSON_CLIENT = { accept: 'application/json' };
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const FORM = 'application/x-www-form-urlencoded';
const GIFT_FORM = {
  purchaserName: 'Olena',
  purchaserEmail: 'olena@example.com',
  recipientName: 'Taras',
  durationMonths: '12',
  currency: 'eur',
  deliverOn: '2026-12-24',
};

async function expectError(res: Response, status: number, code: string) {
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
  expect({ status: res.status, code: body.error.code }).toEqual({ status, code });
  expect(body.error.message).toEqual(expect.any(String));
  expect(body.error.requestId).toEqual(expect.any(String));
}

describe('errors that carry a 4xx status keep it, with a catalogue code', () => {
  it('when the body claims gzip, deflate or br but is not compressed, then 400 invalid_encoding', async () => {
    for (const encoding of ['gzip', 'deflate', 'br']) {
      for (const [type, body] of [
        ['application/json', '{"email":"a@example.com"}'],
        [FORM, 'email=a%40example.com'],
      ] as const) {
        const res = await fetch(`${app.url}/account/sign-in`, {
          method: 'POST',
          headers: { ...JSON_CLIENT, 'content-type': type, 'content-encoding': encoding },
          body,
        });
        await expectError(res, 400, 'invalid_encoding');
      }
    }
  });

  it('when a form has more than 1,000 fields, then 413 too_many_fields', async () => {
    const body = Array.from({ length: 1001 }, (_, i) => `f${i}=1`).join('&');
    for (const path of ['/newsletters/subscriptions', '/memberships/checkout', '/gifts/redeem']) {
      const res = await fetch(`${app.url}${path}`, {
        method: 'POST',
        headers: { ...JSON_CLIENT, 'content-type': FORM },
        body,
      });
      await expectError(res, 413, 'too_many_fields');
    }
  });

  it('when a path has bad percent-encoding, then 400 invalid_path on progress, its SVG and the widget', async () => {
    for (const slug of ['%ZZ', '%C0%AE%C0%AE', '%E0%A4%A', '%']) {
      for (const tail of ['progress', 'progress.svg', 'widget']) {
        const res = await fetch(`${app.url}/campaigns/${slug}/${tail}`, { headers: JSON_CLIENT });
        await expectError(res, 400, 'invalid_path');
      }
    }
  });

  it('when a bearer token of 20,000 characters arrives, then 431 with the error shape, not a bare status line', async () => {
    const res = await fetch(`${app.url}/reports/summary`, {
      headers: { ...JSON_CLIENT, authorization: `Bearer ${'a'.repeat(20_000)}` },
    });
    expect(res.status).toBe(431);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toEqual({ code: 'headers_too_large', message: 'The request headers are too large.' });
  });

  it('when the body is compressed as it says, then it is read (the mapping does not refuse honest clients)', async () => {
    const res = await fetch(`${app.url}/account/sign-in`, {
      method: 'POST',
      headers: { ...JSON_CLIENT, 'content-type': 'application/json', 'content-encoding': 'br' },
      body: brotliCompressSync('{"email":"honest@example.com"}'),
    });
    expect(res.status).toBe(202);
  });
});

describe('answers by Accept', () => {
  it('when a JSON client posts a bad confirmation token, sign-in token or gift code, then it gets the JSON error shape', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${app.url}${path}`, {
        method: 'POST',
        headers: { ...JSON_CLIENT, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await expectError(await post('/newsletters/confirm', { token: 'x'.repeat(43) }), 400, 'invalid_link');
    await expectError(await post('/newsletters/confirm', {}), 400, 'invalid_link');
    await expectError(await post('/account/sign-in/verify', { token: 'x'.repeat(43) }), 400, 'invalid_link');
    await expectError(
      await post('/gifts/redeem', { code: 'GIFT-0000-0000-0000', email: 'taras@example.com' }),
      404,
      'gift_not_found',
    );
  });

  it('when a browser posts the membership form with an amount below the minimum, then it sees the form again with the message', async () => {
    const res = await fetch(`${app.url}/memberships/checkout`, {
      method: 'POST',
      headers: { ...BROWSER, 'content-type': FORM },
      body: 'kind=membership&plan=custom&amount=7&interval=month&currency=eur&email=olena%40example.com',
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('<form method="post" action="/memberships/checkout">');
    expect(html).toContain('role="alert"');
    expect(html).toContain('Choose an amount between');
    expect(html).not.toContain('"error":');
  });

  it('when a browser posts the gift form with a bad email, then it sees the gift form again with the message', async () => {
    const res = await fetch(`${app.url}/gifts/checkout`, {
      method: 'POST',
      headers: { ...BROWSER, 'content-type': FORM },
      body: new URLSearchParams({ ...GIFT_FORM, recipientEmail: 'not-an-email' }).toString(),
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('<form method="post" action="/gifts/checkout">');
    expect(html).toContain('recipientEmail: Please enter a correct email address');
  });

  it('when Stripe is not configured and a browser posts either form, then it sees the form with "Payments are not available right now."', async () => {
    const forms = {
      '/memberships/checkout': 'kind=membership&plan=supporter&interval=month&currency=eur',
      '/gifts/checkout': new URLSearchParams({
        ...GIFT_FORM,
        recipientEmail: 'taras@example.com',
      }).toString(),
    };
    for (const [path, body] of Object.entries(forms)) {
      const res = await fetch(`${noStripe.url}${path}`, {
        method: 'POST',
        headers: { ...BROWSER, 'content-type': FORM },
        body,
      });
      expect({ path, status: res.status }).toEqual({ path, status: 503 });
      const html = await res.text();
      expect(html).toContain(`<form method="post" action="${path}">`);
      expect(html).toContain('Payments are not available right now.');
    }
    // The same request from an API client is the JSON error.
    const api = await fetch(`${noStripe.url}/memberships/checkout`, {
      method: 'POST',
      headers: { ...JSON_CLIENT, 'content-type': FORM },
      body: 'kind=membership&plan=supporter&interval=month&currency=eur',
    });
    await expectError(api, 503, 'payments_not_configured');
  });
});

describe('gift redemption and the rate limit', () => {
  it('when redemption requests are malformed, then 422 and no rate-limit slot is written', async () => {
    const slots = () =>
      app.deps.db
        .collection<{ _id: string }>('claims')
        .countDocuments({ _id: { $regex: '^rate:gift-redeem' } });
    const before = await slots();
    for (const body of [
      {},
      { code: 'short', email: 'a@example.com' },
      { code: 'x'.repeat(20), email: 'nope' },
    ]) {
      const res = await fetch(`${app.url}/gifts/redeem`, {
        method: 'POST',
        headers: { ...JSON_CLIENT, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await expectError(res, 422, 'validation_failed');
    }
    expect(await slots()).toBe(before);
  });
});

describe('progress of an unknown campaign', () => {
  it('when the campaign does not exist, then the 404 carries the CORS header so the widget can read it', async () => {
    const res = await fetch(`${app.url}/campaigns/no-such-drive/progress`, {
      headers: { origin: 'https://news.example' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    await expectError(res, 404, 'not_found');
  });
});
