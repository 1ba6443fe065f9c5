import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignModels } from '../../src/campaigns/campaign.model.js';
import { ensureIndexes } from '../../src/infra/db.js';
import { registerModels } from '../../src/models.js';
import { databaseUri, manualClock, startTestApp, type TestApp, testConfig } from '../support/test-app.js';

let app: TestApp;
const lifecycle = { draining: false };
const clock = manualClock(new Date('2026-11-21T12:00:00Z'));
const reads: string[] = [];

beforeAll(async () => {
  // A connection that reports every command it sends, to count what reaches the database.
  const uri = databaseUri(`progress_${Date.now()}`);
  const db = await mongoose.createConnection(uri, { monitorCommands: true, autoIndex: false }).asPromise();
  registerModels(db);
  await ensureIndexes(db);
  db.getClient().on('commandStarted', (event) => {
    if (['find', 'count', 'aggregate'].includes(event.commandName)) reads.push(event.commandName);
  });
  app = await startTestApp({
    db,
    config: testConfig({ PROGRESS_CACHE_SECONDS: '1' }),
    deps: { clock, lifecycle },
  });
  await campaignModels(db).Campaign.create({
    slug: 'birthday',
    title: '1,000 new members for our birthday',
    goal: 1000,
    startsAt: new Date('2026-11-01T00:00:00Z'),
    endsAt: new Date('2026-11-30T00:00:00Z'),
    timeZone: 'Europe/Kyiv',
    startingOffset: 612,
  });
});
afterAll(async () => {
  await app.close();
  await app.deps.db.dropDatabase();
  await app.deps.db.close();
});

describe('public progress', () => {
  it('when the progress is asked for, then it has the numbers, open CORS and CDN-friendly caching', async () => {
    const res = await fetch(`${app.url}/campaigns/birthday/progress`, {
      headers: { origin: 'https://news.example' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      slug: 'birthday',
      title: '1,000 new members for our birthday',
      goal: 1000,
      count: 612,
      percent: 61,
      remaining: 388,
      startsAt: '2026-11-01T00:00:00.000Z',
      endsAt: '2026-11-30T00:00:00.000Z',
      daysLeft: 9,
      supporters: 0,
      checkpoint: null, // none signed yet: the whole count is pending
      pending: 612,
      updatedAt: expect.any(String),
    });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('cache-control')).toBe(
      'public, max-age=15, s-maxage=30, stale-while-revalidate=60',
    );
    expect(res.headers.get('etag')).toMatch(/^"[\w-]+"$/);
  });

  it('when the answer comes from the cache fast path, then it is the same status, bytes and headers as from Express, 200 and 304 alike', async () => {
    const etag = (await fetch(`${app.url}/campaigns/birthday/progress`)).headers.get('etag')!;
    const cases: Record<string, string>[] = [
      {},
      { 'if-none-match': `W/${etag}` },
      { 'x-request-id': 'proxy-given-1234' },
    ];
    for (const headers of cases) {
      const [viaExpress, viaFastPath] = await viaExpressThenFastPath(headers);
      expect({ headers, status: viaFastPath.status }).toEqual({ headers, status: viaExpress.status });
      expect(await viaFastPath.text()).toBe(await viaExpress.text());
      expect(comparable(viaFastPath)).toEqual(comparable(viaExpress));
      // An API answer's security headers: a policy that allows nothing, nosniff, no document headers.
      expect(viaFastPath.headers.get('content-security-policy')).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
      expect(viaFastPath.headers.get('x-content-type-options')).toBe('nosniff');
      expect(viaFastPath.headers.get('x-frame-options')).toBeNull();
      const requestIds = [viaExpress, viaFastPath].map((res) => res.headers.get('x-request-id'));
      if ('x-request-id' in headers) expect(requestIds).toEqual(['proxy-given-1234', 'proxy-given-1234']);
      else for (const id of requestIds) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('when the process is draining, then answers from the fast path and from Express both ask the client to close the connection', async () => {
    lifecycle.draining = true;
    try {
      const answers = await viaExpressThenFastPath({});
      expect(answers.map((res) => [res.status, res.headers.get('connection')])).toEqual([
        [200, 'close'],
        [200, 'close'],
      ]);
    } finally {
      lifecycle.draining = false;
    }
    expect((await fetch(`${app.url}/campaigns/birthday/progress`)).headers.get('connection')).toBe(
      'keep-alive',
    );
  });

  it('when answers come from the fast path and from Express, then the latency metric counts each of them under the route', async () => {
    const before = await progressAnswersCounted();
    const etag = (await fetch(`${app.url}/campaigns/birthday/progress`)).headers.get('etag')!;
    await viaExpressThenFastPath({});
    await viaExpressThenFastPath({ 'if-none-match': etag });
    const after = await progressAnswersCounted();
    expect({ 200: after[200] - before[200], 304: after[304] - before[304] }).toEqual({ 200: 3, 304: 2 });
  });

  it('when the caller already has the current version, then 304 with no body', async () => {
    const first = await fetch(`${app.url}/campaigns/birthday/progress`);
    const etag = first.headers.get('etag')!;
    const again = await fetch(`${app.url}/campaigns/birthday/progress`, {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    const stale = await fetch(`${app.url}/campaigns/birthday/progress`, {
      headers: { 'if-none-match': '"old"' },
    });
    expect(stale.status).toBe(200);
  });

  it('when a CDN revalidates with a weak ETag or a list of ETags, then 304 too, on the fast path and through Express', async () => {
    const etag = (await fetch(`${app.url}/campaigns/birthday/progress`)).headers.get('etag')!;
    // The first request after a refresh goes through Express, later ones take the fast path: ask twice.
    for (const ifNoneMatch of [`W/${etag}`, `"other", ${etag}`, `"a", W/${etag}, "b"`, '*']) {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${app.url}/campaigns/birthday/progress`, {
          headers: { 'if-none-match': ifNoneMatch },
        });
        expect({ ifNoneMatch, status: res.status }).toEqual({ ifNoneMatch, status: 304 });
      }
    }
    const changed = await fetch(`${app.url}/campaigns/birthday/progress`, {
      headers: { 'if-none-match': 'W/"old"' },
    });
    expect(changed.status).toBe(200);
  });

  it('when the campaign does not exist, then 404 in the error format', async () => {
    const res = await fetch(`${app.url}/campaigns/no-such-drive/progress`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await fetch(`${app.url}/campaigns/Bad%20Slug!/progress`)).status).toBe(422);
  });

  it('when requests keep arriving for 3 seconds, then the database sees a few reads per second, not one per request', async () => {
    reads.length = 0;
    const started = Date.now();
    let answered = 0;
    // At least 3 s and 2,000 answers: a loaded machine answers fewer a second, so it runs longer.
    while (Date.now() - started < 3_000 || (answered < 2_000 && Date.now() - started < 20_000)) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, () => fetch(`${app.url}/campaigns/birthday/progress`)),
      );
      answered += batch.filter((r) => r.status === 200).length;
    }
    expect(answered).toBeGreaterThanOrEqual(2_000);
    // The cache lives 1 s; each refresh is one campaign read, about two probes of each of the
    // campaign's two tallies and one read of the supporters total: a handful of reads per second.
    const seconds = Math.ceil((Date.now() - started) / 1_000);
    expect(reads.length).toBeGreaterThanOrEqual(4);
    expect(reads.length).toBeLessThanOrEqual((seconds + 1) * 8);
  });

  it('when the SVG is asked for, then it is an image with the numbers, embeddable anywhere', async () => {
    const res = await fetch(`${app.url}/campaigns/birthday/progress.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('image/svg+xml');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const svg = await res.text();
    expect(svg).toContain('612 of 1,000 new members (61%)');
    expect(svg).toContain('9 days left');
  });

  it('when the iframe page is asked for, then any site may frame it', async () => {
    const res = await fetch(`${app.url}/campaigns/birthday/widget?locale=uk`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect(res.headers.get('content-security-policy')).toContain('frame-ancestors *');
    expect(await res.text()).toContain('<membership-goal campaign="birthday" locale="uk">');
  });

  it('when the widget script is fetched, then it is small and loadable from any origin', async () => {
    const res = await fetch(`${app.url}/widget.js`);
    expect(res.headers.get('content-type')).toContain('application/javascript');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const { gzipSync } = await import('node:zlib');
    expect(gzipSync(await res.text()).length).toBeLessThanOrEqual(10 * 1024);
  });
});

/** The same request twice: once when the 1 s cache has just expired (Express answers), then again (the fast path). */
async function viaExpressThenFastPath(headers: Record<string, string>): Promise<[Response, Response]> {
  await new Promise((r) => setTimeout(r, 1_100));
  const url = `${app.url}/campaigns/birthday/progress`;
  return [await fetch(url, { headers }), await fetch(url, { headers })];
}

/** Every header but those that differ per answer by nature: the time and the generated request id. */
function comparable(res: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name !== 'date' && name !== 'x-request-id') headers[name] = value;
  });
  return headers;
}

async function progressAnswersCounted(): Promise<Record<200 | 304, number>> {
  const metric = await app.deps.metrics.getSingleMetric('http_request_duration_seconds')!.get();
  const values = metric.values as { metricName?: string; labels: Record<string, unknown>; value: number }[];
  const count = (status: string) =>
    values.find(
      (v) =>
        v.metricName === 'http_request_duration_seconds_count' &&
        v.labels.route === '/campaigns/:slug/progress' &&
        v.labels.status === status,
    )?.value ?? 0;
  return { 200: count('200'), 304: count('304') };
}
