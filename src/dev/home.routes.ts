import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type RequestHandler, Router } from 'express';
import type { Connection } from 'mongoose';
import { campaignModels } from '../campaigns/campaign.model.js';
import type { Config } from '../config/config.js';
import { AppError } from '../http/errors.js';
import { type PageBrand, renderDocument, renderPage } from '../http/pages.js';
import { fromRoot } from '../infra/paths.js';
import { DEMO_CAMPAIGN } from './demo-seed.js';

// Development only (app.ts mounts these when NODE_ENV=development): the home page at `/` says what
// runs and links to everything; `/demo` is a news site's article page built from the public embeds.

export interface DevHomeDeps {
  config: Config;
  db: Connection;
  /** Which database server runs, and where its data is. */
  database: string;
}

const MAIL_FILE = /^[\w.-]+$/;

interface Envelope {
  subject?: string;
  to?: { email?: string };
}

/** The newest messages in the development mail folder (each message is .html, .txt and .json). */
async function latestMail(dir: string, limit = 10) {
  const names = await readdir(dir).catch(() => [] as string[]);
  const newest = names
    .filter((n) => n.endsWith('.json'))
    .sort()
    .reverse()
    .slice(0, limit);
  return Promise.all(
    newest.map(async (name) => {
      const envelope = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as Envelope;
      return {
        file: name.slice(0, -'.json'.length),
        subject: envelope.subject ?? '(no subject)',
        to: envelope.to?.email ?? '',
        // The file name starts with the time it was written (2026-11-28T10-15-00-000Z).
        sentAt: name.slice(0, 19).replace(/T(\d\d)-(\d\d)-(\d\d)/, ' $1:$2:$3'),
      };
    }),
  );
}

function paymentsMode(config: Config): string {
  if (config.stripe.localCheckout)
    return 'local checkout (no Stripe key): "Pay" posts signed Stripe events to /webhooks/stripe';
  if (!config.stripe.secretKey) return 'off (no STRIPE_SECRET_KEY): payment routes answer 503';
  const where = config.stripe.apiUrl ? ` at ${config.stripe.apiUrl}` : '';
  return `Stripe${where} (${config.stripe.secretKey.includes('_test_') ? 'test' : 'live'} key)`;
}

/** Whether /demo has its campaign (the seed skips a database that already held data). */
async function demoState(deps: DevHomeDeps): Promise<string> {
  // A development page over a handful of campaigns: the slug lookup may scan them.
  const campaign = await campaignModels(deps.db).Campaign.exists({ slug: DEMO_CAMPAIGN.slug });
  if (campaign) return `campaign "${DEMO_CAMPAIGN.slug}" is running (seeded once by npm run dev)`;
  return deps.config.demoDrive
    ? `no campaign "${DEMO_CAMPAIGN.slug}": the database held data before the first npm run dev, so no demo was seeded`
    : 'off (DEMO_DRIVE=false)';
}

const isLoopback = (address: string | undefined) =>
  Boolean(address && (/^(::ffff:)?127\./.test(address) || address === '::1'));

/** The name a request was addressed to, without its port ("[::1]" keeps its brackets). */
const hostnameOf = (host: string) =>
  (host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!).toLowerCase();

/**
 * These pages show the newest mail, sign-in links included: they answer a browser on this
 * machine only (the connection and, through a local proxy, the client it names), addressed by a
 * name of this machine, so a page of another site whose name resolves here (DNS rebinding) gets
 * nothing either. docs/security.md.
 */
function onlyThisMachine(publicBaseUrl: string): RequestHandler {
  const names = new Set(['localhost', '127.0.0.1', '[::1]', new URL(publicBaseUrl).hostname]);
  return (req, _res, next) => {
    const local = isLoopback(req.socket.remoteAddress) && isLoopback(req.ip);
    const named = names.has(hostnameOf(req.get('host') ?? ''));
    next(
      local && named
        ? undefined
        : new AppError('forbidden', 'The development pages answer only a browser on this machine.'),
    );
  };
}

export function devHomeRoutes(deps: DevHomeDeps): Router {
  const router = Router();
  const { config } = deps;
  const local = onlyThisMachine(config.http.publicBaseUrl);
  const mailDir = config.email.sendgridApiKey ? undefined : fromRoot(config.email.devMailDir);

  router.get('/', local, async (_req, res) => {
    res.type('html').send(
      renderPage('dev/home', {
        title: 'Development',
        brand: res.locals.brand as PageBrand,
        database: deps.database,
        payments: paymentsMode(config),
        mail: mailDir ? `written to ${mailDir} (no SENDGRID_API_KEY)` : 'SendGrid',
        demo: await demoState(deps),
        campaign: DEMO_CAMPAIGN.slug,
        previews: config.email.previewRoutes,
        mailFolder: mailDir,
        messages: mailDir ? await latestMail(mailDir) : [],
      }),
    );
  });

  router.get('/demo', local, (_req, res) => {
    const base = config.http.publicBaseUrl;
    const origin = new URL(base).origin;
    const nonce = randomBytes(16).toString('base64');
    // The page stands for the news site: it may load the embeds from the members service's public
    // address (which may differ from the address this page was opened at) and run its own script.
    res.setHeader(
      'Content-Security-Policy',
      [
        `default-src 'self' ${origin}`,
        `script-src 'self' ${origin} 'nonce-${nonce}'`,
        "style-src 'self' 'unsafe-inline'",
        `img-src 'self' ${origin} data:`,
        `form-action 'self' ${origin}`,
        "frame-ancestors 'self'",
      ].join('; '),
    );
    res.type('html').send(
      renderDocument('dev/demo', {
        base,
        campaign: DEMO_CAMPAIGN.slug,
        nonce,
        brandName: config.brand.name,
      }),
    );
  });

  router.get('/dev/mail/:file', local, async (req, res) => {
    const { file } = req.params as { file: string };
    if (!mailDir || !MAIL_FILE.test(file) || !/\.(html|txt)$/.test(file)) throw new AppError('not_found');
    const body = await readFile(path.join(mailDir, file), 'utf8').catch(() => {
      throw new AppError('not_found');
    });
    // Email HTML carries inline styles and remote images (the logo) by design.
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; img-src * data:; style-src 'unsafe-inline'",
    );
    res.type(file.endsWith('.html') ? 'html' : 'text/plain; charset=utf-8').send(body);
  });

  return router;
}
