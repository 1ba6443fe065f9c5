import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { configSchema, type Environment } from './schema.js';

// The schema (src/config/schema.ts) describes each variable once; this file only shapes the
// validated variables into the nested settings the code reads. The type follows from that shape.

export { configSchema } from './schema.js';

/** The environment, validated and shaped into the settings the code reads. */
export const configFromEnvironment = configSchema.transform((env) => toConfig(env));
/** The service's settings, as the code reads them (config.http.port, config.stripe.checkout, …). */
export type Config = z.output<typeof configFromEnvironment>;
/** What membership Checkout offers (src/memberships/checkout.service.ts). */
export type CheckoutSettings = Omit<Config['stripe']['checkout'], 'charityStatement'> & {
  charityStatement?: string;
};

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
  const parsed = configFromEnvironment.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    );
  }
  return parsed.data;
}

/** The variables as the code reads them: grouped, with the defaults that depend on other variables. */
function toConfig(env: Environment) {
  const sessionSecret = env.SESSION_SECRET ?? 'development-only-session-secret-not-for-production';
  const localCheckout = env.LOCAL_CHECKOUT ?? (env.NODE_ENV === 'development' && !env.STRIPE_SECRET_KEY);
  return {
    env: env.NODE_ENV,
    http: {
      host: env.HOST,
      port: env.PORT,
      // Unset: this machine at the port it listens on (a development server on another PORT too).
      publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, ''),
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
    /** What the newsroom's own sites may learn about the reader (src/accounts/member-site.ts). */
    memberSite: {
      origins: env.MEMBER_SITE_ORIGINS?.split(',') ?? [],
      keys: env.MEMBER_SITE_KEYS
        ? env.MEMBER_SITE_KEYS.split(',').map((pair) => ({
            kid: pair.slice(0, pair.indexOf(':')),
            seed: Buffer.from(pair.slice(pair.indexOf(':') + 1), 'base64url'),
          }))
        : // Outside production (where the key is required) a development key derived from the
          // session secret, named so that a JWKS showing it is plainly not a production one.
          [{ kid: 'dev-only', seed: createHash('sha256').update(`member-site|${sessionSecret}`).digest() }],
      tokenMinutes: env.MEMBER_SITE_TOKEN_MINUTES,
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
      monitorGraceMs: env.MONGODB_MONITOR_GRACE_MS,
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
      earlyFraudWarningRefunds: env.EARLY_FRAUD_WARNING_REFUNDS,
      checkoutLimits: { perIp: env.CHECKOUT_SESSIONS_PER_IP, perEmail: env.CHECKOUT_SESSIONS_PER_EMAIL },
    },
    demoDrive: env.DEMO_DRIVE && env.NODE_ENV === 'development',
    membershipPlansFile: env.MEMBERSHIP_PLANS_FILE,
    progressCacheMs: env.PROGRESS_CACHE_SECONDS * 1000,
    beaconsPerIpPerMinute: env.ATTRIBUTION_BEACONS_PER_IP,
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
      witnesses: (env.DRIVE_WITNESSES?.split(',') ?? []).map((pair) => {
        const [url = '', vkey = ''] = pair.split(' ');
        return { url: url.replace(/\/$/, ''), vkey };
      }),
      afterEndMs: env.DRIVE_CHECKPOINT_AFTER_END_DAYS * 86_400_000,
    },
    sponsorship: { autoApproveDomains: env.SPONSORSHIP_AUTO_APPROVE_DOMAINS?.split(',') ?? [] },
    /** Answers that must not tell, by their time, what their body does not (src/http/fixed-time.ts). */
    fixedTime: {
      signInMs: env.SIGN_IN_ANSWER_MS,
      newsletterSignUpMs: env.SIGNUP_ANSWER_MS,
      sponsorshipRequestMs: env.SPONSORSHIP_REQUEST_ANSWER_MS,
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
      sendTimeoutMs: env.EMAIL_SEND_TIMEOUT_MS,
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
      retryBaseMs: Math.round(env.JOB_RETRY_BASE_SECONDS * 1000),
      crashAfterClaim: env.JOB_FAULT === 'crash-after-claim',
    },
    /** Outgoing webhooks (src/integrations/): private targets only outside production. */
    webhooks: { allowPrivateTargets: env.WEBHOOK_ALLOW_PRIVATE_TARGETS ?? env.NODE_ENV !== 'production' },
    metricsPort: env.METRICS_PORT,
    metricsHost: env.METRICS_HOST,
    metricsToken: env.METRICS_TOKEN,
    memberSessionIdleDays: env.MEMBER_SESSION_IDLE_DAYS,
  };
}
