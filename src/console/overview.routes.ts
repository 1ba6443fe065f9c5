import { Router } from 'express';
import type { Connection } from 'mongoose';
import type { Clock } from '../infra/clock.js';
import { driveOverview, overviewCampaigns } from '../reports/drive-overview.js';
import { consoleErrors, rolesFor, sendConsolePage } from './console-page.js';
import { consoleRole } from './console-session.js';
import { cumulativeChart, perDayChart, SOURCE_LEGEND } from './overview-charts.js';

/** The console's home: the drive overview (every role; no money on it). */
export function driveOverviewRoutes(deps: { db: Connection; clock: Clock }): Router {
  const router = Router();
  const number = new Intl.NumberFormat('en-GB');
  const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' });
  router.get(
    '/console',
    consoleErrors('overview'),
    consoleRole(...rolesFor('overview')),
    async (_req, res) => {
      const now = deps.clock.now();
      const drives = await Promise.all(
        (await overviewCampaigns(deps.db, now)).map(async (campaign) => {
          const o = await driveOverview(deps.db, campaign, now);
          return {
            ...o,
            countText: number.format(o.count),
            goalText: number.format(o.goal),
            supportersText: o.supporters === null ? undefined : number.format(o.supporters),
            barWidth: Math.min(100, o.percent),
            projected: o.projectedDay && dateFormat.format(new Date(`${o.projectedDay}T00:00:00Z`)),
            endsOn: dateFormat.format(new Date(o.endsAt)),
            cumulativeChart: cumulativeChart(
              `${o.title}: members counted so far against the goal of ${o.goal}`,
              o.days,
              o.goal,
            ),
            perDayChart: perDayChart(`${o.title}: new members per day by source`, o.days),
            recentDays: o.days
              .filter((d) => d.cumulative !== undefined)
              .slice(-14)
              .reverse(),
          };
        }),
      );
      sendConsolePage(res, 'overview', {
        title: 'Drive overview',
        section: 'overview',
        drives,
        legend: SOURCE_LEGEND,
      });
    },
  );
  return router;
}
