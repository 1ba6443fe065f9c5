import { Router } from 'express';
import type { ProgressCache } from '../campaigns/progress.service.js';
import type { Capability, ProcessContext } from '../infra/capability.js';
import { staffAuthFrom } from '../staff/staff.capability.js';
import { campaignConsoleRoutes } from './campaigns.routes.js';
import { consoleSession } from './console-session.js';
import { dashboardRoutes } from './dashboard.routes.js';
import { memberConsoleRoutes } from './members.routes.js';
import { driveOverviewRoutes } from './overview.routes.js';
import { consoleSignInRoutes } from './sign-in.routes.js';
import { sourcesConsoleRoutes } from './sources.routes.js';

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
    router.use(dashboardRoutes());
    router.use('/console', consoleSession(consoleDeps));
    router.use(consoleSignInRoutes(consoleDeps));
    router.use(driveOverviewRoutes({ db, clock }));
    router.use(campaignConsoleRoutes({ db, clock, progressCache: ctx.progressCache }));
    router.use(
      memberConsoleRoutes({ db, clock, stripeDashboard: stripeDashboardUrl(config.stripe.secretKey) }),
    );
    router.use(sourcesConsoleRoutes({ db, clock, timeZone: config.timeZone }));
    return router;
  },
};
