import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevelopment } from '../../src/dev/dev-start.js';
import { createLogger } from '../../src/infra/logger.js';
import { startTestApp, type TestApp, testConfig } from '../support/test-app.js';

// `PORT=4700 npm run dev`: with PUBLIC_BASE_URL unset, the service's public address is this
// machine at that port, so /demo's embeds and the start-up log lead to the server that runs.

const config = testConfig({
  NODE_ENV: 'development',
  PORT: '4700',
  PUBLIC_BASE_URL: undefined,
  DEMO_DRIVE: 'false',
});
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ config });
});
afterAll(() => app?.close());

describe('a development server on another port', () => {
  it('when only PORT is set, then /demo loads every embed from that port', async () => {
    expect(config.http.publicBaseUrl).toBe('http://localhost:4700');
    const res = await fetch(`${app.url}/demo`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const sources = [...html.matchAll(/src="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources.filter((s) => /^https?:/.test(s)))
      expect(src.startsWith('http://localhost:4700/')).toBe(true);
    expect(html).not.toContain(':3000');
    expect(res.headers.get('content-security-policy')).toContain('http://localhost:4700');
  });

  it('when only PORT is set, then the start-up log names that port', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info' });
    logger.info = ((message: string) => lines.push(message)) as typeof logger.info;
    const dev = await startDevelopment(config, { db: app.deps.db, clock: app.deps.clock, logger }, []);
    dev.announce();
    expect(lines.join('\n')).toContain('http://localhost:4700/demo');
    expect(lines.join('\n')).not.toContain(':3000');
  });

  it('when PUBLIC_BASE_URL is set, then it wins over the port', () => {
    const behindProxy = testConfig({
      NODE_ENV: 'development',
      PORT: '4700',
      PUBLIC_BASE_URL: 'https://members.example/',
    });
    expect(behindProxy.http.publicBaseUrl).toBe('https://members.example');
  });
});
