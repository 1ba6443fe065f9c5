import { z } from 'zod';
import { isTimeZone } from '../shared/time.js';
import { serviceSettings } from './schema-services.js';
import { answerMs, port, positiveInt, type Setting, setting, settings } from './setting.js';

export { GROUPS, type Setting, settings } from './setting.js';

// Every environment variable the service reads, each described once, here: its type, default and
// meaning. `src/config/config.ts` turns them into the nested `Config` the code reads, and
// `npm run docs:config` renders `docs/configuration.md` and `.env.example` from this file.

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
    PUBLIC_BASE_URL: setting(z.url().optional(), {
      group: 'process',
      description:
        'Public URL of this service, used in email links, redirects and embed codes (https:// in production, where it is required). Unset: http://localhost:PORT, so another PORT alone gives a working development server.',
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

    MEMBER_SITE_ORIGINS: setting(
      z
        .string()
        .regex(
          /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?(,https?:\/\/[a-z0-9.-]+(:\d{1,5})?)*$/,
          'origins (scheme, host, optional port; no path), comma-separated',
        )
        .optional(),
      {
        group: 'memberSite',
        description:
          "The newsroom's own sites that may ask whether the reader is a member (src/accounts/README.md, " +
          '"The site knows its members"). Only these origins get an answer, a signed identity and CORS ' +
          'headers; they must be on the same site as this service (www.example.org beside ' +
          'members.example.org), because the member cookie is SameSite=Lax. Unset: no site is told.',
        example: 'https://www.newsroom.example,https://newsroom.example',
        productionRule: 'https:// only',
      },
    ),
    MEMBER_SITE_KEYS: setting(
      z
        .string()
        .regex(
          /^[\w-]{1,40}:[A-Za-z0-9_-]{43}(,[\w-]{1,40}:[A-Za-z0-9_-]{43})*$/,
          'kid:seed pairs, comma-separated, each seed 32 random bytes in base64url (43 characters)',
        )
        .optional(),
      {
        group: 'memberSite',
        description:
          "Ed25519 keys that sign the member identity the newsroom's site reads (a JWT); make a seed with " +
          `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))". The first ` +
          'signs; all are published at /.well-known/jwks.json, so a new key goes in front and the old one ' +
          'leaves a few minutes later. Unset outside production: a development key derived from SESSION_SECRET.',
        productionRule: 'required when MEMBER_SITE_ORIGINS is set',
      },
    ),
    MEMBER_SITE_TOKEN_MINUTES: setting(positiveInt.max(15).default(5), {
      group: 'memberSite',
      description:
        'Lifetime of the member identity a site receives, in minutes: how long a token issued before a ' +
        'sign-out or a lapse still verifies.',
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
    DRIVE_WITNESSES: setting(
      z
        .string()
        .regex(
          /^https?:\/\/[^\s,]+ [^\s+,]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}(,https?:\/\/[^\s,]+ [^\s+,]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44})*$/,
          '"<witness URL> <witness vkey>" pairs, comma-separated',
        )
        .optional(),
      {
        group: 'transparency',
        description:
          'Witnesses (c2sp.org/tlog-witness) that cosign each new drive checkpoint: their submission URL ' +
          '(add-checkpoint is posted under it) and their Ed25519 cosignature/v1 vkey, which `npm run witness` ' +
          'prints. Submitted every minute until each has cosigned the newest checkpoint; the cosignatures ' +
          'are appended to the published checkpoint. Unset: none.',
        example: 'https://witness.readers.example witness.readers.example/w1+4482d108+BLpI…',
      },
    ),
    DRIVE_CHECKPOINT_MINUTES: setting(positiveInt.max(60).default(10), {
      group: 'transparency',
      description:
        'A growing drive log gets a new signed checkpoint at most this often (minutes); a running campaign ' +
        'gets one at least hourly, and one within a minute of reaching a milestone.',
    }),
    DRIVE_CHECKPOINT_AFTER_END_DAYS: setting(positiveInt.max(3_660).default(180), {
      group: 'transparency',
      description:
        'An ended campaign whose drive log grows (a late refund or dispute revokes a member) still gets ' +
        'signed checkpoints for this many days after its end: as long as Stripe lets payments be taken back.',
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
    MONGODB_MONITOR_GRACE_MS: setting(positiveInt.max(60_000).default(5_000), {
      group: 'database',
      description:
        'How long past its own timeouts (two MONGODB_TIMEOUT_MS) a database heartbeat may run before the ' +
        'process takes its monitor for hung (a driver bug after every socket dies at once) and reopens its ' +
        'client (milliseconds). It is checked this often, at most once a second. Tests lower it.',
    }),
    EMBEDDED_DB_DIR: setting(z.string().min(1).default('.data/db'), {
      group: 'database',
      description: 'Where the embedded development database keeps its data (git-ignored).',
    }),

    ...serviceSettings,
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
    // The site's member identity is signed with a key of the newsroom's own, never the derived one.
    if (env.MEMBER_SITE_ORIGINS && !env.MEMBER_SITE_KEYS) {
      ctx.addIssue({
        code: 'custom',
        path: ['MEMBER_SITE_KEYS'],
        message: 'is required in production when MEMBER_SITE_ORIGINS is set',
      });
    }
    if (env.MEMBER_SITE_ORIGINS?.split(',').some((origin) => !origin.startsWith('https://'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['MEMBER_SITE_ORIGINS'],
        message: 'must be https:// in production',
      });
    }
    if (env.WEBHOOK_ALLOW_PRIVATE_TARGETS) {
      ctx.addIssue({
        code: 'custom',
        path: ['WEBHOOK_ALLOW_PRIVATE_TARGETS'],
        message: 'must not be true in production (webhooks could reach internal services)',
      });
    }
    if (!env.PUBLIC_BASE_URL?.startsWith('https://')) {
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
