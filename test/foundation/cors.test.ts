import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// Which answers another origin may read (src/http/cors.ts): the public embeds and proofs, from any
// origin and never with credentials; nothing else.

let app: TestApp;
const NEWS_SITE = { origin: 'https://news.example' };

beforeAll(async () => {
  app = await startTestApp();
  await campaignModels(app.deps.db).Campaign.create({
    slug: 'birthday',
    title: 'Birthday drive',
    goal: 1000,
    startsAt: new Date('2026-11-01T00:00:00Z'),
    endsAt: new Date('2026-11-30T00:00:00Z'),
    timeZone: 'Europe/Kyiv',
  });
});
afterAll(async () => {
  await app.close();
});

const corsOf = (res: Response) => {
  const cors: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name.startsWith('access-control-')) cors[name] = value;
  });
  return cors;
};

describe('the embedded newsletter form', () => {
  it('when the news site preflights a sign-up, then any origin may POST JSON, remembered for 10 minutes', async () => {
    const res = await fetch(`${app.url}/newsletters/subscriptions`, {
      method: 'OPTIONS',
      headers: {
        ...NEWS_SITE,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(corsOf(res)).toEqual({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '600',
    });
    expect(res.headers.get('content-length')).toBeNull();
  });

  it('when the form posts a sign-up, right or wrong, then the news site may read the answer', async () => {
    for (const lists of [['daily'], ['no-such-list']]) {
      const res = await fetch(`${app.url}/newsletters/subscriptions`, {
        method: 'POST',
        headers: { ...NEWS_SITE, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'reader@example.com', lists }),
      });
      expect([202, 422]).toContain(res.status);
      expect(corsOf(res)).toMatchObject({ 'access-control-allow-origin': '*' });
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });
});

describe('public embeds and proofs', () => {
  it('when a page on any site fetches an embed or a proof, then it may read it, and never with credentials', async () => {
    const paths = [
      '/newsletters/lists',
      '/embed/newsletter-form.js',
      '/widget.js',
      '/embed/iframe-resize.js',
      '/campaigns/birthday/progress.svg',
      '/campaigns/birthday/sponsored',
      '/campaigns/birthday/transparency/checkpoints',
      '/transparency/drive-verify-core.mjs',
      '/transparency/drive-verify-page.js',
    ];
    for (const path of paths) {
      const res = await fetch(`${app.url}${path}`, { headers: NEWS_SITE });
      expect({ path, status: res.status, cors: corsOf(res) }).toEqual({
        path,
        status: 200,
        cors: { 'access-control-allow-origin': '*' },
      });
    }
  });

  it('when a proof names a campaign that does not exist, then the verifier may still read the 404', async () => {
    const res = await fetch(`${app.url}/campaigns/no-such-drive/transparency/checkpoints`, {
      headers: NEWS_SITE,
    });
    expect(res.status).toBe(404);
    expect(corsOf(res)).toEqual({ 'access-control-allow-origin': '*' });
  });
});

describe('everything else', () => {
  it('when another origin fetches a page of ours that is not an embed, then the answer carries no CORS header', async () => {
    for (const path of ['/newsletters', '/campaigns/birthday/verify', '/campaigns/birthday/widget']) {
      const res = await fetch(`${app.url}${path}`, { headers: NEWS_SITE });
      expect({ path, status: res.status, cors: corsOf(res) }).toEqual({ path, status: 200, cors: {} });
    }
  });
});
