import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

let app: TestApp;
const METRICS_TOKEN = 'operator-metrics-token-0123456789abcdef';

beforeAll(async () => {
  app = await startTestApp({ config: testConfig({ BODY_LIMIT: '1kb', METRICS_TOKEN: METRICS_TOKEN }) });
});
afterAll(() => app.close());

const post = (path: string, body: string, contentType = 'application/json') =>
  fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

function expectErrorFormat(body: unknown, code: string) {
  expect(body).toEqual({
    error: { code, message: expect.any(String), requestId: expect.any(String) },
  });
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+|stack/i);
}

describe('HTTP basics', () => {
  it('when /healthz is asked, then it answers 200 with a request id', async () => {
    const res = await fetch(`${app.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when the caller sends a sane X-Request-Id, then it is kept; a hostile one is replaced', async () => {
    const kept = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': 'edge-1234abcd' } });
    expect(kept.headers.get('x-request-id')).toBe('edge-1234abcd');
    const replaced = await fetch(`${app.url}/healthz`, {
      headers: { 'x-request-id': '<script>alert(1)</script>' },
    });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when the database answers, then /readyz is 200', async () => {
    const res = await fetch(`${app.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });

  it('when the body is malformed JSON, then 400 invalid_json', async () => {
    const res = await post('/anything', '{"email": ');
    expect(res.status).toBe(400);
    expectErrorFormat(await res.json(), 'invalid_json');
  });

  it('when the body is over the limit, then 413 payload_too_large', async () => {
    const res = await post('/anything', JSON.stringify({ text: 'x'.repeat(2048) }));
    expect(res.status).toBe(413);
    expectErrorFormat(await res.json(), 'payload_too_large');
  });

  it('when the body is neither JSON nor a form, then 415 unsupported_media_type', async () => {
    const res = await post('/anything', '<xml/>', 'application/xml');
    expect(res.status).toBe(415);
    expectErrorFormat(await res.json(), 'unsupported_media_type');
  });

  it('when the route is unknown, then 404 not_found', async () => {
    const res = await fetch(`${app.url}/no/such/route`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { requestId: string } };
    expectErrorFormat(body, 'not_found');
    expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
  });

  it('when /metrics is scraped with the operator token, then it answers Prometheus text', async () => {
    const res = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('process_cpu_user_seconds_total');
  });

  it('when security headers are checked, then helmet set them and x-powered-by is gone', async () => {
    const res = await fetch(`${app.url}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('x-powered-by')).toBeNull();
  });
});

describe('API documentation', () => {
  it('when /openapi.json is fetched, then it is a valid OpenAPI 3.1 document', async () => {
    const res = await fetch(`${app.url}/openapi.json`);
    expect(res.status).toBe(200);
    const document = (await res.json()) as { openapi: string; paths: object };
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz']));
  });

  it('when /docs is opened, then a readable page is served', async () => {
    const res = await fetch(`${app.url}/docs/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Membership drive API');
  });
});
