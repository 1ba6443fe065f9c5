import { Router } from 'express';
import type { Connection } from 'mongoose';
import type { Clock } from '../infra/clock.js';
import { driveOverview, overviewCampaigns } from '../reports/drive-overview.js';
import { consoleFormats } from './console-locale.js';
import { consoleErrors, localeOf, rolesFor, sendConsolePage } from './console-page.js';
import { consoleRole } from './console-session.js';
import { driveView, legendOf } from './drive-view.js';

/** The console's home: the drive overview (every role; no money on it). */
export function driveOverviewRoutes(deps: { db: Connection; clock: Clock; timeZone: string }): Router {
  const router = Router();
  router.get(
    '/console',
    consoleErrors('overview'),
    consoleRole(...rolesFor('overview')),
    async (_req, res) => {
      const now = deps.clock.now();
      const locale = localeOf(res);
      const formats = consoleFormats(locale, deps.timeZone);
      const drives = await Promise.all(
        (await overviewCampaigns(deps.db, now)).map(async (campaign) =>
          driveView(await driveOverview(deps.db, campaign, now), formats, locale),
        ),
      );
      sendConsolePage(res, 'overview', {
        title: 'console.nav.overview',
        section: 'overview',
        drives,
        legend: legendOf(locale),
      });
    },
  );
  return router;
}
