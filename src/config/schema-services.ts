import { z } from 'zod';
import { boolean, hexColor, port, positiveInt, setting } from './setting.js';

// The settings of the services the app talks to and the capabilities' own (Stripe, campaigns,
// gifts, newsletters, email, background jobs, branding); spread into configSchema in this order.

export const serviceSettings = {
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
      "Stripe Tax computes VAT / sales tax from the reader's address (turn on Stripe Tax first), on " +
      'memberships, gifts and sponsorships (not one-time contributions). Prices are tax-inclusive: a ' +
      'reader pays the advertised amount.',
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
  CHECKOUT_SESSIONS_PER_IP: setting(positiveInt.default(20), {
    group: 'stripe',
    description:
      'Checkout Sessions (membership, gift, sponsorship) one IP may start per 10 minutes, across all ' +
      'processes: slows card testing, where a stolen card is tried through many sessions.',
  }),
  CHECKOUT_SESSIONS_PER_EMAIL: setting(positiveInt.default(10), {
    group: 'stripe',
    description: 'Checkout Sessions one email address may start per hour, whatever the IP.',
  }),
  STRIPE_ADOPT_UNTAGGED: setting(boolean.default(false), {
    group: 'stripe',
    description:
      "true: events about subscriptions and invoices without our metadata (made by the newsroom's older " +
      'signup forms on the same Stripe account) are ours: renewals, dunning, cancellations apply to members. ' +
      'false: only our own and those adopted by `npm run import -- stripe` are.',
  }),
  EARLY_FRAUD_WARNING_REFUNDS: setting(boolean.default(false), {
    group: 'stripe',
    description:
      "true: when Stripe Radar's early fraud warning (the card issuer reports a payment as fraud) concerns " +
      'a gift not yet redeemed or a one-time contribution, the service refunds it through Stripe before it ' +
      'becomes a dispute and its fee. false: the warning is only logged for staff. Subscriptions are never ' +
      'refunded automatically. Nothing is booked until the refund itself arrives.',
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

  ATTRIBUTION_BEACONS_PER_IP: setting(positiveInt.default(60), {
    group: 'campaigns',
    description:
      'Views and clicks the widget and buttons may report from one IP per minute, across all processes; ' +
      'more are refused (429) and not counted. A page view sends one or two; raise it when many readers share ' +
      "an address (an office, a carrier's NAT).",
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
  SENDGRID_WEBHOOK_PUBLIC_KEY: setting(z.string().min(40, 'the base64 public key from SendGrid').optional(), {
    group: 'email',
    description: "Public key (base64) of SendGrid's signed Event Webhook; events are refused without it.",
    production: 'required',
  }),
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
  JOB_RETRY_BASE_SECONDS: setting(z.coerce.number().min(0.1).max(86_400).default(30), {
    group: 'jobs',
    description:
      'First retry delay of a failed job (seconds, fractions allowed: tests use 0.2); each further attempt waits about twice as long (with ' +
      "jitter), up to 6 hours. A provider's Retry-After is honoured when it asks for longer.",
  }),
  JOB_FAULT: setting(z.enum(['crash-after-claim']).optional(), {
    group: 'jobs',
    description:
      'Fault injection for tests and rehearsals: crash-after-claim makes a worker die right after taking a ' +
      'job, before doing it.',
    production: 'unset',
  }),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: setting(boolean.optional(), {
    group: 'integrations',
    description:
      'true: outgoing webhooks may be sent to loopback, private, link-local and unique-local addresses ' +
      '(a receiver on this machine or the office network, for development and tests). Unset: true outside ' +
      'production, false in production, where each connection is refused unless the address it resolves ' +
      'to at that moment is public (src/integrations/README.md).',
    productionRule: 'must not be true',
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
};
