import { z } from 'zod';
import { isTimeZone } from '../shared/time.js';

// Every environment variable the service reads, each described once, here: its type, default and
// meaning. `src/config/config.ts` turns them into the nested `Config` the code reads, and
// `npm run docs:config` renders `docs/configuration.md` and `.env.example` from this file.

export const GROUPS = {
  process: 'Process',
  sessions: 'Member sessions',
  staff: 'Staff sign-in',
  transparency: 'Verifiable drive count (src/transparency/)',
  sponsorship: 'Sponsor a reader (src/sponsorship/)',
  fixedTime: 'Answers in fixed time (src/http/fixed-time.ts)',
  database: 'Database',
  stripe: 'Stripe',
  campaigns: 'Campaigns',
  gifts: 'Gifts',
  newsletters: 'Newsletters',
  email: 'Email',
  jobs: 'Background jobs',
  brand: 'Branding (email layout, reader pages, console)',
} as const;

export interface Setting {
  group: keyof typeof GROUPS;
  description: string;
  /** A value to show where there is no default (docs only; never used). */
  example?: string;
  /** Production refuses to start without it (`required`) or with it (`unset`). */
  production?: 'required' | 'unset';
  /** Production refuses a smaller value: the default is what the setting is for (see its description). */
  productionMin?: number;
  /** Any other rule production adds, in words, for the docs (checked in `configSchema` below). */
  productionRule?: string;
}

/** The description of each variable, read by the docs renderer and by the production checks. */
export const settings = z.registry<Setting>();

function setting<T extends z.ZodType>(schema: T, meta: Setting): T {
  settings.add(schema, meta);
  return schema;
}

const boolean = z.enum(['true', 'false']).transform((v) => v === 'true');
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const answerMs = z.coerce.number().int().nonnegative().max(10_000);
const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour like #1a73e8');

export const configSchema = z
  .object({
    NODE_ENV: setting(z.enum(['development', 'test', 'production']).default('development'), {
      group: 'process',
      description: 'Which rules apply. Production requires the Mongo, Stripe and SendGrid values below.',
    }),
    HOST: setting(z.string().min(1).default('127.0.0.1'), {
      group: 'process',
      description: 'Interface to listen on (0.0.0.0 in a container).',
    }),
    PORT: setting(port.default(3000), { group: 'process', description: 'Port to listen on.' }),
    PUBLIC_BASE_URL: setting(z.url().default('http://localhost:3000'), {
      group: 'process',
      description: 'Public URL of this service, used in email links and redirects (https:// in production).',
      productionRule: 'https:// only',
    }),
    TRUST_PROXY: setting(z.string().default('loopback'), {
      group: 'process',
      description:
        'Express "trust proxy" setting: which proxies may set X-Forwarded-For (e.g. loopback, 1, 10.0.0.0/8).',
    }),
    LOG_LEVEL: setting(
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      { group: 'process', description: 'The least severe log lines written.' },
    ),
    BODY_LIMIT: setting(
      z
        .string()
        .regex(/^\d+(b|kb|mb)$/, 'a size like 100kb')
        .default('100kb'),
      { group: 'process', description: 'Largest request body accepted (e.g. 100kb); bigger bodies get 413.' },
    ),
    SHUTDOWN_TIMEOUT_MS: setting(positiveInt.default(25_000), {
      group: 'process',
      description:
        'How long a graceful shutdown waits for in-flight requests and the email being sent before giving up ' +
        '(milliseconds). Keep it above EMAIL_SEND_TIMEOUT_MS (the longest send), so a deploy lets a send in flight end: one ' +
        'abandoned is sent again when its lease runs out, and SendGrid may have taken the first. Keep your ' +
        "process manager's grace period above it.",
    }),
    TIME_ZONE: setting(z.string().refine(isTimeZone, 'an IANA time zone like Europe/Kyiv').default('UTC'), {
      group: 'process',
      description: "The newsroom's IANA time zone: report days and months are cut here (e.g. Europe/Kyiv).",
    }),

    SESSION_SECRET: setting(
      z.string().min(32, 'at least 32 random characters (openssl rand -hex 32)').optional(),
      {
        group: 'sessions',
        description:
          'Secret that signs member sign-in cookies and reader links (unsubscribe, my data). Changing it ' +
          'invalidates unsubscribe links already sent. Unset outside production: a fixed development secret.',
        production: 'required',
      },
    ),
    MEMBER_SESSION_DAYS: setting(positiveInt.default(30), {
      group: 'sessions',
      description: 'How long a member stays signed in, in days, however active (docs/security.md).',
    }),
    MEMBER_SESSION_IDLE_DAYS: setting(positiveInt.default(7), {
      group: 'sessions',
      description: "A member's session ends after this many days without a request.",
    }),

    STAFF_JWT_KEYS: setting(
      z
        .string()
        .regex(
          /^[\w-]{1,40}:\S{32,}(,[\w-]{1,40}:\S{32,})*$/,
          'kid:secret pairs, comma-separated, secrets of 32+ characters',
        )
        .optional(),
      {
        group: 'staff',
        description:
          'Keys that sign staff access tokens. The first signs; all verify, so a new key can be added in ' +
          'front and the old one removed later.',
        production: 'required',
      },
    ),
    STAFF_ACCESS_TOKEN_MINUTES: setting(positiveInt.max(60).default(10), {
      group: 'staff',
      description: 'Lifetime of a staff access token, in minutes.',
    }),
    STAFF_REFRESH_TOKEN_DAYS: setting(positiveInt.default(14), {
      group: 'staff',
      description: 'Lifetime of a staff refresh token, in days.',
    }),

    DRIVE_SIGNING_KEYS: setting(
      z
        .string()
        .regex(
          /^[\w-]{1,40}:[A-Za-z0-9_-]{43}(,[\w-]{1,40}:[A-Za-z0-9_-]{43})*$/,
          'kid:seed pairs, comma-separated, each seed 32 random bytes in base64url (43 characters)',
        )
        .optional(),
      {
        group: 'transparency',
        description:
          "Ed25519 keys that sign the drive's public checkpoints; make a seed with " +
          `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))". The first ` +
          'signs; all are published at /.well-known/membership-drive-keys.json, so keep a retired key listed ' +
          '(after the new one) while its checkpoints are still checked. Unset outside production: a ' +
          'development key derived from SESSION_SECRET.',
        production: 'required',
      },
    ),
    DRIVE_CHECKPOINT_MINUTES: setting(positiveInt.max(60).default(10), {
      group: 'transparency',
      description:
        'A growing drive log gets a new signed checkpoint at most this often (minutes); a running campaign ' +
        'gets one at least hourly, and one within a minute of reaching a milestone.',
    }),

    SPONSORSHIP_AUTO_APPROVE_DOMAINS: setting(
      z
        .string()
        .regex(/^[a-z0-9.-]+(,[a-z0-9.-]+)*$/, 'lowercase domains, comma-separated')
        .optional(),
      {
        group: 'sponsorship',
        description:
          'Readers who confirm an address at one of these domains (e.g. a partner university) are approved ' +
          'without staff review. Unset: staff decide every request.',
        example: 'uni.example,school.example',
      },
    ),

    // The floors hide, in the time an answer takes, what its body hides: whether an address is a
    // member, a subscriber, a reader who already asked (docs/adr on answers in fixed time).
    SIGN_IN_ANSWER_MS: setting(answerMs.default(250), {
      group: 'fixedTime',
      description:
        "Member sign-in answers no sooner than this (milliseconds). A member's link is several writes and a " +
        "stranger's none (8-42 ms against 3-4 ms): answering as soon as the work was done told who is a member. " +
        'Production refuses less than the default; tests lower it, except the test that asserts it.',
      productionMin: 250,
    }),
    SIGNUP_ANSWER_MS: setting(answerMs.default(60), {
      group: 'fixedTime',
      description:
        "Newsletter sign-up answers no sooner than this (milliseconds): it covers a sign-up's writes on an " +
        'idle database (5-15 ms), so a confirmed address and a new one answer alike, and keeps sign-up p99 ' +
        'within 100 ms. Production refuses less than the default; tests lower it, except the test that asserts it.',
      productionMin: 60,
    }),
    SPONSORSHIP_REQUEST_ANSWER_MS: setting(answerMs.default(100), {
      group: 'fixedTime',
      description:
        "A sponsorship request answers no sooner than this (milliseconds): it covers a request's writes (an " +
        'insert and an email) on an idle database, so whether the address already asked does not show. ' +
        'Production refuses less than the default; tests lower it, except the test that asserts it.',
      productionMin: 100,
    }),

    MONGODB_URI: setting(
      z
        .string()
        .regex(/^mongodb(\+srv)?:\/\//, 'a mongodb:// or mongodb+srv:// URI')
        .optional(),
      {
        group: 'database',
        description:
          'MongoDB 6+ connection string (Atlas or a replica set). Unset: an embedded database under EMBEDDED_DB_DIR.',
        example: 'mongodb+srv://cluster.example/membership',
        production: 'required',
      },
    ),
    MONGODB_POOL_SIZE: setting(positiveInt.default(20), {
      group: 'database',
      description: 'Connection pool size per process.',
    }),
    MONGODB_TIMEOUT_MS: setting(positiveInt.default(5_000), {
      group: 'database',
      description: 'Server selection / connect timeout, and the /readyz ping timeout (milliseconds).',
    }),
    EMBEDDED_DB_DIR: setting(z.string().min(1).default('.data/db'), {
      group: 'database',
      description: 'Where the embedded development database keeps its data (git-ignored).',
    }),

    STRIPE_SECRET_KEY: setting(
      z
        .string()
        .regex(/^(sk|rk)_/, 'a Stripe secret key (sk_… or rk_…)')
        .optional(),
      {
        group: 'stripe',
        description: 'Secret or restricted key. Unset: payment routes answer 503 payments_not_configured.',
        production: 'required',
        productionRule: 'a live-mode key',
      },
    ),
    STRIPE_WEBHOOK_SECRET: setting(
      z.string().startsWith('whsec_', 'a webhook signing secret (whsec_…)').optional(),
      {
        group: 'stripe',
        description: 'Signing secret of the webhook endpoint.',
        production: 'required',
      },
    ),
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: setting(positiveInt.default(300), {
      group: 'stripe',
      description: 'Webhook events signed longer ago than this are refused (replay protection).',
    }),
    STRIPE_API_URL: setting(z.url({ protocol: /^https?$/ }).optional(), {
      group: 'stripe',
      description: 'Where the Stripe API is, for stripe-mock in development. Unset: Stripe itself.',
      example: 'http://localhost:12111',
      production: 'unset',
    }),
    STRIPE_TIMEOUT_MS: setting(positiveInt.default(10_000), {
      group: 'stripe',
      description:
        'Per Stripe request, in milliseconds. Payment routes answer 503 payments_unavailable (Retry-After) ' +
        'when Stripe fails, errs with 5xx or takes longer.',
    }),
    LOCAL_CHECKOUT: setting(boolean.optional(), {
      group: 'stripe',
      description:
        'Development without a Stripe key: checkout goes to a local payment page whose "Pay" posts the signed ' +
        'events Stripe would send to our own /webhooks/stripe (signed with STRIPE_WEBHOOK_SECRET, or a fixed ' +
        'development secret). Unset: on in development when STRIPE_SECRET_KEY is unset. Refused outside ' +
        'development and beside a Stripe key.',
      productionRule: 'must be unset',
    }),
    DEMO_DRIVE: setting(boolean.default(true), {
      group: 'stripe',
      description:
        '`npm run dev` seeds the demo drive into an empty database: the campaign "1,000 new members for our ' +
        'birthday", a demo staff admin (credentials in the log) and the /demo article page. Development only; ' +
        '`npm run dev -- --no-demo` skips it once.',
    }),
    STRIPE_PROMOTION_CODES: setting(boolean.default(false), {
      group: 'stripe',
      description:
        'Checkout offers a field for Stripe promotion codes (create the codes in the Stripe dashboard).',
    }),
    STRIPE_AUTOMATIC_TAX: setting(boolean.default(false), {
      group: 'stripe',
      description:
        "Stripe Tax computes VAT / sales tax from the reader's address (turn on Stripe Tax first). Tier prices " +
        'are tax-inclusive: a reader pays the advertised amount.',
    }),
    STRIPE_TAX_ID_COLLECTION: setting(boolean.default(false), {
      group: 'stripe',
      description: 'Checkout lets readers (businesses) give a VAT or other tax id for their invoices.',
    }),
    CHARITY_STATEMENT: setting(z.string().trim().min(1).max(1000).optional(), {
      group: 'stripe',
      description:
        "A registered charity's statement, shown at Checkout, on the membership page and on receipts. Unset: none.",
      example: '… is a registered charity, no. 123. No goods or services were provided in exchange.',
    }),
    STRIPE_ADOPT_UNTAGGED: setting(boolean.default(false), {
      group: 'stripe',
      description:
        "true: events about subscriptions and invoices without our metadata (made by the newsroom's older " +
        'signup forms on the same Stripe account) are ours: renewals, dunning, cancellations apply to members. ' +
        'false: only our own and those adopted by `npm run import -- stripe` are.',
    }),
    MEMBERSHIP_PLANS_FILE: setting(z.string().min(1).optional(), {
      group: 'stripe',
      description:
        'JSON file with membership tiers, prices and amount limits (shape: README, "Plans"). Unset: built-in plans.',
    }),

    PROGRESS_CACHE_SECONDS: setting(z.coerce.number().int().nonnegative().default(5), {
      group: 'campaigns',
      description:
        "How long each process keeps a campaign's progress before reading the database again (seconds).",
    }),

    GIFT_OPTIONS_FILE: setting(z.string().min(1).optional(), {
      group: 'gifts',
      description:
        'JSON file with gift durations and prices ({"durations":[{"months":12,"prices":{"eur":5000}}]}). ' +
        'Unset: 1, 3 and 12 months.',
    }),
    GIFT_DELIVERY_HOUR: setting(z.coerce.number().int().min(0).max(23).default(9), {
      group: 'gifts',
      description: 'Local hour (in TIME_ZONE) at which gifts are delivered on their chosen day.',
    }),
    GIFT_EXPIRY_MONTHS: setting(positiveInt.default(12), {
      group: 'gifts',
      description: 'Unredeemed gifts expire this many months after delivery (the purchaser is told).',
    }),

    NEWSLETTER_LISTS_FILE: setting(z.string().min(1).optional(), {
      group: 'newsletters',
      description:
        'JSON file with the newsletter lists (slug, name, description, language, visible, sendgridListId). ' +
        'Unset: built-in lists.',
    }),
    NEWSLETTER_CONFIRMATION_HOURS: setting(positiveInt.default(48), {
      group: 'newsletters',
      description: 'How long a confirmation link works, in hours.',
    }),
    NEWSLETTER_SIGNUPS_PER_IP: setting(positiveInt.default(20), {
      group: 'newsletters',
      description: 'Sign-up requests allowed per IP per 10 minutes, across all processes.',
    }),

    SENDGRID_API_KEY: setting(z.string().startsWith('SG.', 'a SendGrid API key (SG.…)').optional(), {
      group: 'email',
      description: 'SendGrid API key. Unset: emails are written to DEV_MAIL_DIR instead of being sent.',
      production: 'required',
    }),
    SENDGRID_WEBHOOK_PUBLIC_KEY: setting(
      z.string().min(40, 'the base64 public key from SendGrid').optional(),
      {
        group: 'email',
        description: "Public key (base64) of SendGrid's signed Event Webhook; events are refused without it.",
        production: 'required',
      },
    ),
    SENDGRID_API_URL: setting(z.url({ protocol: /^https?$/ }).optional(), {
      group: 'email',
      description:
        'Where the SendGrid API is, for a local fake in tests and outage rehearsals. Unset: SendGrid itself.',
      production: 'unset',
    }),
    EMAIL_FROM: setting(z.email().default('members@newsroom.example'), {
      group: 'email',
      description: 'Sender address.',
    }),
    EMAIL_FROM_NAME: setting(z.string().min(1).default('The Newsroom'), {
      group: 'email',
      description: 'Sender name.',
    }),
    EMAIL_REPLY_TO: setting(z.email().optional(), {
      group: 'email',
      description: 'Reply-To address. Unset: none.',
      example: 'members@newsroom.example',
    }),
    DEV_MAIL_DIR: setting(z.string().min(1).default('.data/mail'), {
      group: 'email',
      description: 'Folder that receives emails when no SendGrid key is set (git-ignored).',
    }),
    EMAIL_WORKER: setting(z.enum(['inline', 'off']).default('inline'), {
      group: 'email',
      description:
        'inline: web processes also run the background work (apply stored Stripe events, send queued email); ' +
        'off: only `npm run worker` processes do, so run at least one.',
    }),
    EMAIL_SEND_TIMEOUT_MS: setting(z.coerce.number().int().min(100).max(60_000).default(20_000), {
      group: 'email',
      description:
        'Longest wait for SendGrid to answer one send (milliseconds). A send gets at most a third of ' +
        'JOB_LEASE_SECONDS and SHUTDOWN_TIMEOUT_MS less 2 s (but never under 1 s from those), so it ends ' +
        'inside its lease and inside a graceful stop. Tests lower it.',
    }),
    EMAIL_MAX_ATTEMPTS: setting(positiveInt.default(8), {
      group: 'email',
      description: 'Attempts before a job is marked failed.',
    }),
    EMAIL_PREVIEW_ROUTES: setting(boolean.optional(), {
      group: 'email',
      description: 'true to serve /dev/emails (template previews). Unset: on in development only.',
    }),

    JOB_LEASE_SECONDS: setting(z.coerce.number().int().min(2).max(3600).default(60), {
      group: 'jobs',
      description:
        'How long a worker holds a job it took (seconds). A worker that dies holding one loses it after this, ' +
        'and another worker takes the job over. An email send gets at most a third of it.',
    }),
    JOB_RETRY_BASE_SECONDS: setting(positiveInt.default(30), {
      group: 'jobs',
      description:
        'First retry delay of a failed job (seconds); each further attempt waits about twice as long (with ' +
        "jitter), up to 6 hours. A provider's Retry-After is honoured when it asks for longer.",
    }),
    JOB_FAULT: setting(z.enum(['crash-after-claim']).optional(), {
      group: 'jobs',
      description:
        'Fault injection for tests and rehearsals: crash-after-claim makes a worker die right after taking a ' +
        'job, before doing it.',
      production: 'unset',
    }),
    METRICS_PORT: setting(port.optional(), {
      group: 'jobs',
      description:
        'A listener of its own on which each process (web or worker) serves /metrics, on METRICS_HOST. Unset: none.',
      example: '9464',
    }),
    METRICS_HOST: setting(z.string().min(1).default('127.0.0.1'), {
      group: 'jobs',
      description: 'The address METRICS_PORT listens on: loopback unless set, never the public port.',
    }),
    METRICS_TOKEN: setting(
      z.string().min(32, 'at least 32 random characters (openssl rand -hex 32)').optional(),
      {
        group: 'jobs',
        description:
          'The bearer token /metrics on the public port asks for. Unset (the default, production too): the public port does not serve /metrics; use METRICS_PORT (docs/security.md).',
      },
    ),

    BRAND_NAME: setting(z.string().min(1).default('The Newsroom'), {
      group: 'brand',
      description: 'The name shown in emails, reader pages and the console.',
    }),
    BRAND_LOGO_URL: setting(z.url().optional(), {
      group: 'brand',
      description: 'Absolute URL of the logo shown at the top of every email. Unset: the name only.',
      example: 'https://newsroom.example/logo.png',
    }),
    BRAND_PRIMARY_COLOR: setting(hexColor.default('#1a56db'), {
      group: 'brand',
      description: 'Primary colour.',
    }),
    BRAND_POSTAL_ADDRESS: setting(z.string().min(1).default('1 Press Street, Springfield'), {
      group: 'brand',
      description: 'Postal address shown in every email footer (required by anti-spam law).',
    }),
    BRAND_FOOTER: setting(z.string().min(1).optional(), {
      group: 'brand',
      description:
        'Footer line under every English email. Unset: the message catalogue\'s ("You receive this email ' +
        'because you support independent journalism.").',
    }),
    BRAND_FOOTER_UK: setting(z.string().min(1).optional(), {
      group: 'brand',
      description: "Footer line under every Ukrainian email. Unset: the message catalogue's.",
    }),
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
    // Stand-ins for Stripe and SendGrid, and fault injection, are for development and tests only.
    for (const [key, meta] of settingsOf()) {
      const value = env[key];
      if (meta.production === 'required' && !value)
        ctx.addIssue({ code: 'custom', path: [key], message: 'is required in production' });
      if (meta.production === 'unset' && value !== undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: 'must be unset in production' });
      if (meta.productionMin !== undefined && typeof value === 'number' && value < meta.productionMin)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `must be at least ${meta.productionMin} in production`,
        });
    }
    if (!env.PUBLIC_BASE_URL.startsWith('https://')) {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_BASE_URL'], message: 'must be https:// in production' });
    }
    if (env.STRIPE_SECRET_KEY?.includes('_test_')) {
      ctx.addIssue({
        code: 'custom',
        path: ['STRIPE_SECRET_KEY'],
        message: 'is a test-mode key in production',
      });
    }
  });

export type Environment = z.output<typeof configSchema>;

/** Each variable's name and description, in the order they are declared. */
export function settingsOf(): [keyof Environment, Setting][] {
  return Object.entries(configSchema.shape).map(([key, schema]) => {
    const meta = settings.get(schema);
    if (!meta) throw new Error(`${key} has no description in src/config/schema.ts`);
    return [key as keyof Environment, meta];
  });
}
