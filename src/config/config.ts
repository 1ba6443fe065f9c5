import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isTimeZone } from '../shared/time.js';

// Every environment variable the service reads, in one place. `.env.example` documents each
// of them and a test keeps the two in agreement.

const boolean = z.enum(['true', 'false']).transform((v) => v === 'true');
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour like #1a73e8');

export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: port.default(3000),
    PUBLIC_BASE_URL: z.url().default('http://localhost:3000'),
    TRUST_PROXY: z.string().default('loopback'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    BODY_LIMIT: z
      .string()
      .regex(/^\d+(b|kb|mb)$/, 'a size like 100kb')
      .default('100kb'),
    // Above the longest email send (20 s), so a deploy lets a send in flight end: one abandoned is
    // sent again when its lease runs out, and SendGrid may have taken the first.
    SHUTDOWN_TIMEOUT_MS: positiveInt.default(25_000),
    TIME_ZONE: z.string().refine(isTimeZone, 'an IANA time zone like Europe/Kyiv').default('UTC'),

    SESSION_SECRET: z.string().min(32, 'at least 32 random characters (openssl rand -hex 32)').optional(),
    MEMBER_SESSION_DAYS: positiveInt.default(30),
    STAFF_JWT_KEYS: z
      .string()
      .regex(
        /^[\w-]{1,40}:\S{32,}(,[\w-]{1,40}:\S{32,})*$/,
        'kid:secret pairs, comma-separated, secrets of 32+ characters',
      )
      .optional(),
    STAFF_ACCESS_TOKEN_MINUTES: positiveInt.max(60).default(10),
    STAFF_REFRESH_TOKEN_DAYS: positiveInt.default(14),

    MONGODB_URI: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'a mongodb:// or mongodb+srv:// URI')
      .optional(),
    MONGODB_POOL_SIZE: positiveInt.default(20),
    MONGODB_TIMEOUT_MS: positiveInt.default(5_000),
    EMBEDDED_DB_DIR: z.string().min(1).default('.data/db'),

    STRIPE_SECRET_KEY: z
      .string()
      .regex(/^(sk|rk)_/, 'a Stripe secret key (sk_… or rk_…)')
      .optional(),
    STRIPE_WEBHOOK_SECRET: z.string().startsWith('whsec_', 'a webhook signing secret (whsec_…)').optional(),
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: positiveInt.default(300),
    STRIPE_API_URL: z.url({ protocol: /^https?$/ }).optional(),
    STRIPE_TIMEOUT_MS: positiveInt.default(10_000),
    LOCAL_CHECKOUT: boolean.optional(),
    DEMO_DRIVE: boolean.default(true),
    STRIPE_PROMOTION_CODES: boolean.default(false),
    STRIPE_AUTOMATIC_TAX: boolean.default(false),
    STRIPE_TAX_ID_COLLECTION: boolean.default(false),
    CHARITY_STATEMENT: z.string().trim().min(1).max(1000).optional(),
    STRIPE_ADOPT_UNTAGGED: boolean.default(false),
    MEMBERSHIP_PLANS_FILE: z.string().min(1).optional(),
    PROGRESS_CACHE_SECONDS: z.coerce.number().int().nonnegative().default(5),
    GIFT_OPTIONS_FILE: z.string().min(1).optional(),
    GIFT_DELIVERY_HOUR: z.coerce.number().int().min(0).max(23).default(9),
    GIFT_EXPIRY_MONTHS: positiveInt.default(12),
    NEWSLETTER_LISTS_FILE: z.string().min(1).optional(),
    NEWSLETTER_CONFIRMATION_HOURS: positiveInt.default(48),
    NEWSLETTER_SIGNUPS_PER_IP: positiveInt.default(20),
    DRIVE_SIGNING_KEYS: z
      .string()
      .regex(
        /^[\w-]{1,40}:[A-Za-z0-9_-]{43}(,[\w-]{1,40}:[A-Za-z0-9_-]{43})*$/,
        'kid:seed pairs, comma-separated, each seed 32 random bytes in base64url (43 characters)',
      )
      .optional(),
    DRIVE_CHECKPOINT_MINUTES: positiveInt.max(60).default(10),
    SPONSORSHIP_AUTO_APPROVE_DOMAINS: z
      .string()
      .regex(/^[a-z0-9.-]+(,[a-z0-9.-]+)*$/, 'lowercase domains, comma-separated')
      .optional(),

    SENDGRID_API_KEY: z.string().startsWith('SG.', 'a SendGrid API key (SG.…)').optional(),
    SENDGRID_WEBHOOK_PUBLIC_KEY: z.string().min(40, 'the base64 public key from SendGrid').optional(),
    SENDGRID_API_URL: z.url({ protocol: /^https?$/ }).optional(),
    EMAIL_FROM: z.email().default('members@newsroom.example'),
    EMAIL_FROM_NAME: z.string().min(1).default('The Newsroom'),
    EMAIL_REPLY_TO: z.email().optional(),
    DEV_MAIL_DIR: z.string().min(1).default('.data/mail'),
    EMAIL_WORKER: z.enum(['inline', 'off']).default('inline'),
    EMAIL_MAX_ATTEMPTS: positiveInt.default(8),
    EMAIL_PREVIEW_ROUTES: boolean.optional(),

    JOB_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(60),
    JOB_RETRY_BASE_SECONDS: positiveInt.default(30),
    JOB_FAULT: z.enum(['crash-after-claim']).optional(),
    METRICS_PORT: port.optional(),

    BRAND_NAME: z.string().min(1).default('The Newsroom'),
    BRAND_LOGO_URL: z.url().optional(),
    BRAND_PRIMARY_COLOR: hexColor.default('#1a56db'),
    BRAND_POSTAL_ADDRESS: z.string().min(1).default('1 Press Street, Springfield'),
    // Unset: the footer line comes from the message catalogue in each email's language.
    BRAND_FOOTER: z.string().min(1).optional(),
    BRAND_FOOTER_UK: z.string().min(1).optional(),

    // Member sessions and operator endpoints (docs/security.md).
    MEMBER_SESSION_IDLE_DAYS: positiveInt.default(7),
    METRICS_TOKEN: z.string().min(32, 'at least 32 random characters (openssl rand -hex 32)').optional(),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  })
  .superRefine((env, ctx) => {
    // The local checkout stands in for Stripe: never beside a real key, never outside development.
    if (env.LOCAL_CHECKOUT && env.NODE_ENV !== 'development') {
      ctx.addIssue({ code: 'custom', path: ['LOCAL_CHECKOUT'], message: 'is for development only' });
    } else if (env.LOCAL_CHECKOUT && env.STRIPE_SECRET_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['LOCAL_CHECKOUT'],
        message: 'cannot be on while STRIPE_SECRET_KEY is set (payments go to Stripe)',
      });
    }
    if (env.NODE_ENV !== 'production') return;
    const required: (keyof typeof env)[] = [
      'SESSION_SECRET',
      'STAFF_JWT_KEYS',
      'DRIVE_SIGNING_KEYS',
      'MONGODB_URI',
      'STRIPE_SECRET_KEY',
      'STRIPE_WEBHOOK_SECRET',
      'SENDGRID_API_KEY',
      'SENDGRID_WEBHOOK_PUBLIC_KEY',
    ];
    for (const key of required) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required in production' });
    }
    if (!env.PUBLIC_BASE_URL.startsWith('https://')) {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_BASE_URL'], message: 'must be https:// in production' });
    }
    // Stand-ins for Stripe and SendGrid, and fault injection, are for development and tests only.
    for (const key of ['STRIPE_API_URL', 'SENDGRID_API_URL', 'JOB_FAULT'] as const) {
      if (env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'must be unset in production' });
    }
    if (env.STRIPE_SECRET_KEY?.includes('_test_')) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRIPE_SECRET_KEY'],
        message: 'is a test-mode key in production',
      });
    }
  });

type Env = z.infer<typeof configSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  http: {
    host: string;
    port: number;
    publicBaseUrl: string;
    trustProxy: string;
    bodyLimit: string;
    shutdownTimeoutMs: number;
  };
  logLevel: Env['LOG_LEVEL'];
  /** Signs member session cookies (HS256) and reader links (unsubscribe, my data). */
  session: { secret: string; days: number };
  /** Staff access tokens: the first key signs, every key verifies (rotation by key id). */
  staffAuth: {
    keys: { kid: string; secret: string }[];
    accessTokenMinutes: number;
    refreshTokenDays: number;
  };
  /** The newsroom's time zone: report days and months are cut here. */
  timeZone: string;
  mongo: { uri?: string; poolSize: number; timeoutMs: number; embeddedDir: string };
  stripe: {
    secretKey?: string;
    webhookSecret?: string;
    webhookToleranceSeconds: number;
    apiUrl?: string;
    /** Per request; a payment route answers 503 payments_unavailable rather than wait longer. */
    timeoutMs: number;
    /**
     * Development without a Stripe key: checkout goes to a local payment page that posts signed
     * Stripe events to our own webhook (src/dev/local-checkout.ts).
     */
    localCheckout: boolean;
    /** What membership Checkout offers (src/memberships/checkout.service.ts). */
    checkout: CheckoutSettings;
    /**
     * Events about subscriptions and invoices without our `metadata.app` are ours too (the
     * newsroom's own Stripe account, adopted with `npm run import -- stripe`). Off: only adopted
     * customers and subscriptions are, besides our own.
     */
    adoptUntagged: boolean;
  };
  /** `npm run dev` seeds the demo drive into an empty database (src/dev/demo-seed.ts). */
  demoDrive: boolean;
  membershipPlansFile?: string;
  /** How long each process keeps a campaign's progress before reading the database again. */
  progressCacheMs: number;
  newsletters: { listsFile?: string; confirmationHours: number; signupsPerIp: number };
  gifts: { optionsFile?: string; deliveryHour: number; expiryMonths: number };
  /**
   * The verifiable drive count (src/transparency/): Ed25519 keys that sign checkpoints (the first
   * signs, all are published) and how often a growing log gets a new checkpoint.
   */
  transparency: { keys: { kid: string; seed: Buffer }[]; checkpointMs: number };
  /** Sponsor a reader (src/sponsorship/): confirmed requests from these domains are approved. */
  sponsorship: { autoApproveDomains: string[] };
  email: {
    sendgridApiKey?: string;
    sendgridWebhookPublicKey?: string;
    /** Another SendGrid API address (a local fake in tests and rehearsals). */
    sendgridApiUrl?: string;
    from: { email: string; name: string };
    replyTo?: string;
    devMailDir: string;
    worker: Env['EMAIL_WORKER'];
    maxAttempts: number;
    previewRoutes: boolean;
  };
  brand: {
    name: string;
    logoUrl?: string;
    primaryColor: string;
    postalAddress: string;
    /** Footer line per language; a language without one uses the catalogue's (src/shared/messages.ts). */
    footer: { en?: string; uk?: string };
  };
  /** The background job runner (src/infra/jobs/). */
  jobs: { leaseMs: number; retryBaseMs: number; crashAfterClaim: boolean };
  /** A listener of its own on which each process (web or worker) serves /metrics; unset: none. */
  metricsPort?: number;
  /** A member's session ends after this many days without a request (and MEMBER_SESSION_DAYS after sign-in). */
  memberSessionIdleDays: number;
  /**
   * The bearer token that /metrics on the public port asks for. Unset (the default, production
   * too): the public port does not serve /metrics at all; use METRICS_PORT.
   */
  metricsToken?: string;
  /** The address METRICS_PORT listens on: loopback unless set, never the public port. */
  metricsHost: string;
}

export interface CheckoutSettings {
  /** Readers may enter a Stripe promotion code at Checkout. */
  promotionCodes: boolean;
  /** Stripe Tax computes VAT/sales tax from the reader's address (needs Stripe Tax set up). */
  automaticTax: boolean;
  /** Readers (businesses) may give a VAT or other tax id, printed on their invoices. */
  taxIdCollection: boolean;
  /** A registered charity's statement, shown at Checkout, on the membership page and on receipts. */
  charityStatement?: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the environment once; throws a ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined>): Config {
  // An empty value in .env files means "not set", not "set to the empty string".
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  const env = parsed.data;
  const sessionSecret = env.SESSION_SECRET ?? 'development-only-session-secret-not-for-production';
  const localCheckout = env.LOCAL_CHECKOUT ?? (env.NODE_ENV === 'development' && !env.STRIPE_SECRET_KEY);
  return {
    env: env.NODE_ENV,
    http: {
      host: env.HOST,
      port: env.PORT,
      publicBaseUrl: env.PUBLIC_BASE_URL.replace(/\/$/, ''),
      trustProxy: env.TRUST_PROXY,
      bodyLimit: env.BODY_LIMIT,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    },
    logLevel: env.LOG_LEVEL,
    // Outside production a fixed development secret keeps sessions across restarts.
    session: {
      secret: sessionSecret,
      days: env.MEMBER_SESSION_DAYS,
    },
    staffAuth: {
      keys: (env.STAFF_JWT_KEYS ?? 'dev:development-only-staff-signing-key-not-for-production')
        .split(',')
        .map((pair) => ({
          kid: pair.slice(0, pair.indexOf(':')),
          secret: pair.slice(pair.indexOf(':') + 1),
        })),
      accessTokenMinutes: env.STAFF_ACCESS_TOKEN_MINUTES,
      refreshTokenDays: env.STAFF_REFRESH_TOKEN_DAYS,
    },
    timeZone: env.TIME_ZONE,
    mongo: {
      uri: env.MONGODB_URI,
      poolSize: env.MONGODB_POOL_SIZE,
      timeoutMs: env.MONGODB_TIMEOUT_MS,
      embeddedDir: env.EMBEDDED_DB_DIR,
    },
    stripe: {
      secretKey: env.STRIPE_SECRET_KEY,
      // The local checkout signs its events; without an endpoint secret it uses a fixed one.
      webhookSecret:
        env.STRIPE_WEBHOOK_SECRET ?? (localCheckout ? 'whsec_development_only_local_checkout' : undefined),
      webhookToleranceSeconds: env.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      apiUrl: env.STRIPE_API_URL,
      timeoutMs: env.STRIPE_TIMEOUT_MS,
      localCheckout,
      checkout: {
        promotionCodes: env.STRIPE_PROMOTION_CODES,
        automaticTax: env.STRIPE_AUTOMATIC_TAX,
        taxIdCollection: env.STRIPE_TAX_ID_COLLECTION,
        charityStatement: env.CHARITY_STATEMENT,
      },
      adoptUntagged: env.STRIPE_ADOPT_UNTAGGED,
    },
    demoDrive: env.DEMO_DRIVE && env.NODE_ENV === 'development',
    membershipPlansFile: env.MEMBERSHIP_PLANS_FILE,
    progressCacheMs: env.PROGRESS_CACHE_SECONDS * 1000,
    gifts: {
      optionsFile: env.GIFT_OPTIONS_FILE,
      deliveryHour: env.GIFT_DELIVERY_HOUR,
      expiryMonths: env.GIFT_EXPIRY_MONTHS,
    },
    transparency: {
      keys: env.DRIVE_SIGNING_KEYS
        ? env.DRIVE_SIGNING_KEYS.split(',').map((pair) => ({
            kid: pair.slice(0, pair.indexOf(':')),
            seed: Buffer.from(pair.slice(pair.indexOf(':') + 1), 'base64url'),
          }))
        : // Outside production (where the key is required) a key derived from the session secret:
          // stable across restarts and processes, so development checkpoints stay verifiable.
          [{ kid: 'dev', seed: createHash('sha256').update(`drive-signing|${sessionSecret}`).digest() }],
      checkpointMs: env.DRIVE_CHECKPOINT_MINUTES * 60_000,
    },
    sponsorship: { autoApproveDomains: env.SPONSORSHIP_AUTO_APPROVE_DOMAINS?.split(',') ?? [] },
    newsletters: {
      listsFile: env.NEWSLETTER_LISTS_FILE,
      confirmationHours: env.NEWSLETTER_CONFIRMATION_HOURS,
      signupsPerIp: env.NEWSLETTER_SIGNUPS_PER_IP,
    },
    email: {
      sendgridApiKey: env.SENDGRID_API_KEY,
      sendgridWebhookPublicKey: env.SENDGRID_WEBHOOK_PUBLIC_KEY,
      sendgridApiUrl: env.SENDGRID_API_URL,
      from: { email: env.EMAIL_FROM, name: env.EMAIL_FROM_NAME },
      replyTo: env.EMAIL_REPLY_TO,
      devMailDir: env.DEV_MAIL_DIR,
      worker: env.EMAIL_WORKER,
      maxAttempts: env.EMAIL_MAX_ATTEMPTS,
      previewRoutes: env.EMAIL_PREVIEW_ROUTES ?? env.NODE_ENV === 'development',
    },
    brand: {
      name: env.BRAND_NAME,
      logoUrl: env.BRAND_LOGO_URL,
      primaryColor: env.BRAND_PRIMARY_COLOR,
      postalAddress: env.BRAND_POSTAL_ADDRESS,
      footer: { en: env.BRAND_FOOTER, uk: env.BRAND_FOOTER_UK },
    },
    jobs: {
      leaseMs: env.JOB_LEASE_SECONDS * 1000,
      retryBaseMs: env.JOB_RETRY_BASE_SECONDS * 1000,
      crashAfterClaim: env.JOB_FAULT === 'crash-after-claim',
    },
    metricsPort: env.METRICS_PORT,
    memberSessionIdleDays: env.MEMBER_SESSION_IDLE_DAYS,
    metricsToken: env.METRICS_TOKEN,
    metricsHost: env.METRICS_HOST,
  };
}
