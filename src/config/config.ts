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
    SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
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
    MEMBERSHIP_PLANS_FILE: z.string().min(1).optional(),
    PROGRESS_CACHE_SECONDS: z.coerce.number().int().nonnegative().default(5),
    GIFT_OPTIONS_FILE: z.string().min(1).optional(),
    GIFT_DELIVERY_HOUR: z.coerce.number().int().min(0).max(23).default(9),
    GIFT_EXPIRY_MONTHS: positiveInt.default(12),
    NEWSLETTER_LISTS_FILE: z.string().min(1).optional(),
    NEWSLETTER_CONFIRMATION_HOURS: positiveInt.default(48),
    NEWSLETTER_SIGNUPS_PER_IP: positiveInt.default(20),

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
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== 'production') return;
    const required: (keyof typeof env)[] = [
      'SESSION_SECRET',
      'STAFF_JWT_KEYS',
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
  };
  membershipPlansFile?: string;
  /** How long each process keeps a campaign's progress before reading the database again. */
  progressCacheMs: number;
  newsletters: { listsFile?: string; confirmationHours: number; signupsPerIp: number };
  gifts: { optionsFile?: string; deliveryHour: number; expiryMonths: number };
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
  /** The background job runner (src/infra/jobs.ts). */
  jobs: { leaseMs: number; retryBaseMs: number; crashAfterClaim: boolean };
  /** Where a process without the web app (the worker) serves /metrics; unset: nowhere. */
  metricsPort?: number;
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
      secret: env.SESSION_SECRET ?? 'development-only-session-secret-not-for-production',
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
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
      webhookToleranceSeconds: env.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      apiUrl: env.STRIPE_API_URL,
      timeoutMs: env.STRIPE_TIMEOUT_MS,
    },
    membershipPlansFile: env.MEMBERSHIP_PLANS_FILE,
    progressCacheMs: env.PROGRESS_CACHE_SECONDS * 1000,
    gifts: {
      optionsFile: env.GIFT_OPTIONS_FILE,
      deliveryHour: env.GIFT_DELIVERY_HOUR,
      expiryMonths: env.GIFT_EXPIRY_MONTHS,
    },
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
  };
}
