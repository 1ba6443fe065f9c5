import { Router } from 'express';
import type { ProgressCache } from '../campaigns/progress.service.js';
import type { Capability, ProcessContext } from '../infra/capability.js';
import { staffAuthFrom } from '../staff/staff.capability.js';
import { campaignConsoleRoutes } from './campaigns.routes.js';
import { consoleLocale } from './console-locale.js';
import { consoleSession } from './console-session.js';
import { memberConsoleRoutes } from './members.routes.js';
import { driveOverviewRoutes } from './overview.routes.js';
import { consoleReportRoutes } from './reports.routes.js';
import { consoleSignInRoutes } from './sign-in.routes.js';
import { sourcesConsoleRoutes } from './sources.routes.js';
import { webhookConsoleRoutes } from './webhooks.routes.js';

/** Links to a member's Stripe records open the live or the test dashboard, as the key is. */
function stripeDashboardUrl(secretKey: string | undefined): string {
  const live = secretKey?.startsWith('sk_live') || secretKey?.startsWith('rk_live');
  return `https://dashboard.stripe.com${live ? '' : '/test'}`;
}

/** The staff console: server-rendered pages over the same staff tokens, carried in cookies. */
export const consoleCapability: Capability<ProcessContext & { progressCache: ProgressCache }> = {
  name: 'console',
  routes(ctx) {
    const { db, clock, config } = ctx;
    const consoleDeps = {
      db,
      clock,
      auth: staffAuthFrom(config),
      secureCookies: config.env === 'production',
    };
    const router = Router();
    // The finance dashboard that stood apart is now the console's reports page.
    router.get(['/dashboard', '/dashboard/'], (_req, res) => res.redirect(301, '/console/reports'));
    router.use('/console', consoleLocale(consoleDeps), consoleSession(consoleDeps));
    router.use(consoleSignInRoutes(consoleDeps));
    router.use(driveOverviewRoutes({ db, clock, timeZone: config.timeZone }));
    router.use(consoleReportRoutes({ db, clock, stripe: ctx.stripe, timeZone: config.timeZone }));
    router.use(campaignConsoleRoutes({ db, clock, progressCache: ctx.progressCache }));
    router.use(
      memberConsoleRoutes({
        db,
        clock,
        stripeDashboard: stripeDashboardUrl(config.stripe.secretKey),
        timeZone: config.timeZone,
      }),
    );
    router.use(
      webhookConsoleRoutes({
        db,
        clock,
        allowPrivateTargets: config.webhooks.allowPrivateTargets,
        timeZone: config.timeZone,
      }),
    );
    router.use(sourcesConsoleRoutes({ db, clock, timeZone: config.timeZone }));
    return router;
  },
};
