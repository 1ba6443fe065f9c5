import type { DriveOverview } from '../reports/drive-overview.js';
import { type Locale, translate } from '../shared/messages.js';
import type { ConsoleFormats } from './console-locale.js';
import { cumulativeChart, perDayChart, SOURCE_LEGEND } from './overview-charts.js';

// One drive as the console shows it (templates/pages/partials/console-drive.hbs): on the overview
// for every running drive, and in the finance reports for the campaign picked.

export function driveView(o: DriveOverview, f: ConsoleFormats, locale: Locale) {
  return {
    ...o,
    countText: translate(locale, 'console.overview.countOf', {
      count: f.number(o.count),
      goal: f.number(o.goal),
    }),
    percentText: f.percent(o.percent / 100),
    paceText: f.number(o.pacePerDay),
    supportersText: o.supporters === null ? undefined : f.number(o.supporters),
    barWidth: Math.min(100, o.percent),
    daysLeftText: translate(locale, 'console.overview.daysLeft', {
      count: o.daysLeft,
      date: f.date(o.endsAt),
    }),
    projection: o.projectedDay
      ? translate(
          locale,
          o.projectedAfterEnd ? 'console.overview.projectedAfterEnd' : 'console.overview.projected',
          {
            date: f.day(o.projectedDay),
          },
        )
      : translate(locale, o.percent >= 100 ? 'console.overview.reached' : 'console.overview.noPace'),
    cumulativeChart: cumulativeChart(
      translate(locale, 'console.overview.cumulativeChart', { title: o.title, goal: f.number(o.goal) }),
      o.days,
      o.goal,
      { goal: translate(locale, 'console.overview.goalLine', { goal: f.number(o.goal) }), day: f.day },
    ),
    perDayChart: perDayChart(
      translate(locale, 'console.overview.perDayChart', { title: o.title }),
      o.days,
      f.day,
    ),
    recentDays: o.days
      .filter((d) => d.cumulative !== undefined)
      .slice(-14)
      .reverse()
      .map((d) => ({
        ...d,
        dayText: f.day(d.day),
        checkoutText: f.number(d.checkout),
        giftText: f.number(d.gift),
        oneTimeText: f.number(d.oneTime),
        revokedText: f.number(d.revoked),
        cumulativeText: f.number(d.cumulative!),
      })),
  };
}

export const legendOf = (locale: Locale) =>
  SOURCE_LEGEND.map((s) => ({ label: translate(locale, s.label), colour: s.colour }));
