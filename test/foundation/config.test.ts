import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, loadConfig } from '../../src/config/config.js';
import { sendTimeoutMs } from '../../src/email/email.setup.js';
import { fromRoot } from '../../src/infra/paths.js';
import { spawnServer } from '../support/server-process.js';

const PRODUCTION = {
  NODE_ENV: 'production',
  SESSION_SECRET: 'x'.repeat(32),
  STAFF_JWT_KEYS: `k1:${'y'.repeat(32)}`,
  DRIVE_SIGNING_KEYS: `drive-2026:${'z'.repeat(43)}`,
  PUBLIC_BASE_URL: 'https://members.newsroom.example',
  MONGODB_URI: 'mongodb+srv://cluster.example/membership',
  STRIPE_SECRET_KEY: 'sk_live_abc',
  STRIPE_WEBHOOK_SECRET: 'whsec_abc',
  SENDGRID_API_KEY: 'SG.abc',
  SENDGRID_WEBHOOK_PUBLIC_KEY: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE-public-key-placeholder',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('when nothing is set, then development starts on safe defaults', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.http.port).toBe(3000);
    expect(config.mongo.uri).toBeUndefined();
    expect(config.stripe.secretKey).toBeUndefined();
    expect(config.email.previewRoutes).toBe(true);
  });

  it('when a value is invalid, then the error names the variable and what it expects', () => {
    expect(problemsOf({ PORT: 'eighty' })).toEqual([expect.stringMatching(/^PORT: /)]);
    expect(problemsOf({ MONGODB_URI: 'postgres://x' })).toEqual([
      'MONGODB_URI: a mongodb:// or mongodb+srv:// URI',
    ]);
    expect(problemsOf({ BRAND_PRIMARY_COLOR: 'blue' })).toEqual([
      'BRAND_PRIMARY_COLOR: a colour like #1a73e8',
    ]);
  });

  it('when production lacks real values, then each missing one is named', () => {
    expect(problemsOf(PRODUCTION)).toEqual([]);
    const { STRIPE_SECRET_KEY: _, MONGODB_URI: __, ...missing } = PRODUCTION;
    expect(problemsOf(missing)).toEqual([
      'MONGODB_URI: is required in production',
      'STRIPE_SECRET_KEY: is required in production',
    ]);
    expect(problemsOf({ ...PRODUCTION, PUBLIC_BASE_URL: 'http://x.example' })).toEqual([
      'PUBLIC_BASE_URL: must be https:// in production',
    ]);
    expect(problemsOf({ ...PRODUCTION, STRIPE_SECRET_KEY: 'sk_test_abc' })).toEqual([
      'STRIPE_SECRET_KEY: is a test-mode key in production',
    ]);
  });

  it('when production is given an answer floor below its default, then it refuses to start; elsewhere the floor may be small', () => {
    expect(loadConfig({}).fixedTime).toEqual({
      signInMs: 250,
      newsletterSignUpMs: 60,
      sponsorshipRequestMs: 100,
    });
    expect(problemsOf({ ...PRODUCTION, SIGN_IN_ANSWER_MS: '249', SIGNUP_ANSWER_MS: '5' })).toEqual([
      'SIGN_IN_ANSWER_MS: must be at least 250 in production',
      'SIGNUP_ANSWER_MS: must be at least 60 in production',
    ]);
    expect(problemsOf({ ...PRODUCTION, SPONSORSHIP_REQUEST_ANSWER_MS: '400' })).toEqual([]);
    expect(loadConfig({ NODE_ENV: 'test', SIGN_IN_ANSWER_MS: '1' }).fixedTime.signInMs).toBe(1);
  });

  it('when the send timeout is set, then a send waits no longer, and never longer than its lease and a graceful stop allow', () => {
    expect(sendTimeoutMs(loadConfig({}))).toBe(20_000);
    expect(sendTimeoutMs(loadConfig({ EMAIL_SEND_TIMEOUT_MS: '300' }))).toBe(300);
    expect(sendTimeoutMs(loadConfig({ JOB_LEASE_SECONDS: '30' }))).toBe(10_000);
    expect(sendTimeoutMs(loadConfig({ SHUTDOWN_TIMEOUT_MS: '5000' }))).toBe(3_000);
  });

  it('when the local checkout is asked for outside development or beside a Stripe key, then the service refuses to start', () => {
    expect(problemsOf({ ...PRODUCTION, LOCAL_CHECKOUT: 'true' })).toEqual([
      'LOCAL_CHECKOUT: is for development only',
    ]);
    expect(
      problemsOf({ NODE_ENV: 'development', LOCAL_CHECKOUT: 'true', STRIPE_SECRET_KEY: 'sk_test_x' }),
    ).toEqual(['LOCAL_CHECKOUT: cannot be on while STRIPE_SECRET_KEY is set (payments go to Stripe)']);
    expect(loadConfig({ NODE_ENV: 'development' }).stripe.localCheckout).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development', STRIPE_SECRET_KEY: 'sk_test_x' }).stripe.localCheckout).toBe(
      false,
    );
    expect(loadConfig({ ...PRODUCTION }).stripe.localCheckout).toBe(false);
  });

  it('when .env.example is read, then it documents exactly the variables the schema reads', () => {
    const example = readFileSync(fromRoot('.env.example'), 'utf8');
    const documented = [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(Object.keys(configSchema.shape).sort());
    const values = Object.fromEntries(
      example
        .split('\n')
        .filter((line) => /^[A-Z]/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(() => loadConfig(values)).not.toThrow();
  });

  it('when the server starts with a bad variable, then it exits before listening and says which', async () => {
    const server = spawnServer({ PORT: 'not-a-port', MONGODB_URI: 'mongodb://127.0.0.1:1/x' });
    expect(await server.exited).toBe(78);
    expect(server.output()).toContain('Invalid configuration');
    expect(server.output()).toMatch(/PORT: .*number/);
    expect(server.output()).not.toContain('listening');
  });

  it('when production is started without its secrets, then it refuses to start', async () => {
    const server = spawnServer({ NODE_ENV: 'production' });
    expect(await server.exited).toBe(78);
    expect(server.output()).toContain('MONGODB_URI: is required in production');
    expect(server.output()).toContain('SENDGRID_API_KEY: is required in production');
  });
});
