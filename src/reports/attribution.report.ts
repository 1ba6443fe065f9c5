import type { Connection } from 'mongoose';
import { type FunnelCounts, type FunnelRow, readFunnel, STAGES } from '../attribution/funnel.service.js';
import { readRows } from '../attribution/rows.js';
import type { Attribution } from '../shared/attribution.js';

// Members and first-year money by article, placement, newsletter and referrer for one campaign,
// and its funnel, from the figures src/attribution keeps per day: a walk of `_id`s per day, never a
// scan of members or the ledger.

export const DIMENSIONS = {
  article: 'page',
  placement: 'placement',
  newsletter: 'newsletter',
  referrer: 'referrer',
} as const satisfies Record<string, keyof Attribution>;
export type Dimension = keyof typeof DIMENSIONS;

/** What a row had no value for (a checkout from before attribution, a link with no page). */
export const UNKNOWN = '(none)';

export interface AttributionLine {
  value: string;
  members: number;
  /** First-year money per currency, minor units, refunds taken off. */
  revenue: Record<string, number>;
}

/** YYYY-MM-DD days from..to inclusive (calendar days: no time zone arithmetic needed). */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (
    let at = new Date(`${from}T00:00:00Z`);
    at.toISOString().slice(0, 10) <= to;
    at.setUTCDate(at.getUTCDate() + 1)
  )
    days.push(at.toISOString().slice(0, 10));
  return days;
}

export async function attributionReport(
  db: Connection,
  query: { campaign: string; from: string; to: string },
  now: Date,
) {
  const days = daysBetween(query.from, query.to);
  const by = Object.fromEntries(
    Object.keys(DIMENSIONS).map((d) => [d, new Map<string, AttributionLine>()]),
  ) as Record<Dimension, Map<string, AttributionLine>>;
  const totals: Omit<AttributionLine, 'value'> = { members: 0, revenue: {} };
  const add = (
    line: Omit<AttributionLine, 'value'>,
    members: number,
    currency: string | undefined,
    amount: number,
  ) => {
    line.members += members;
    if (currency && amount !== 0) line.revenue[currency] = (line.revenue[currency] ?? 0) + amount;
  };
  for (const day of days)
    for (const row of await readRows(db, query.campaign, day)) {
      const members = row.kind === 'member' ? 1 : 0;
      add(totals, members, row.currency, row.amount);
      for (const [dimension, field] of Object.entries(DIMENSIONS) as [Dimension, keyof Attribution][]) {
        const value = row.attribution?.[field] ?? UNKNOWN;
        const line = by[dimension].get(value) ?? { value, members: 0, revenue: {} };
        by[dimension].set(value, line);
        add(line, members, row.currency, row.amount);
      }
    }
  const sorted = (lines: Map<string, AttributionLine>) =>
    [...lines.values()].sort((a, b) => b.members - a.members || a.value.localeCompare(b.value));
  const funnelRows = await readFunnel(db, query.campaign, days, now);
  return {
    ...query,
    totals,
    byArticle: sorted(by.article),
    byPlacement: sorted(by.placement),
    byNewsletter: sorted(by.newsletter),
    byReferrer: sorted(by.referrer),
    funnel: funnelSummary(funnelRows),
  };
}

/** The funnel alone: views, clicks, checkouts started and paid per day and placement. */
export async function funnelReport(
  db: Connection,
  query: { campaign: string; from: string; to: string },
  now: Date,
) {
  return funnelSummary(await readFunnel(db, query.campaign, daysBetween(query.from, query.to), now));
}

function funnelSummary(rows: FunnelRow[]) {
  const total: FunnelCounts = { view: 0, click: 0, started: 0, paid: 0 };
  const byPlacement = new Map<string, FunnelCounts & { placement: string }>();
  for (const row of rows) {
    const line = byPlacement.get(row.placement) ?? {
      placement: row.placement,
      view: 0,
      click: 0,
      started: 0,
      paid: 0,
    };
    byPlacement.set(row.placement, line);
    for (const stage of STAGES) {
      total[stage] += row[stage];
      line[stage] += row[stage];
    }
  }
  return { total, byPlacement: [...byPlacement.values()], days: rows };
}

export type AttributionReport = Awaited<ReturnType<typeof attributionReport>>;

export const ATTRIBUTION_COLUMNS = [
  'dimension',
  'value',
  'members',
  'currency',
  'first_year_revenue',
] as const;

/** One line per dimension, value and currency; `members` is the value's, repeated on each currency line. */
export function attributionCsvLines(report: AttributionReport) {
  const sections: [Dimension, AttributionLine[]][] = [
    ['article', report.byArticle],
    ['placement', report.byPlacement],
    ['newsletter', report.byNewsletter],
    ['referrer', report.byReferrer],
  ];
  return sections.flatMap(([dimension, lines]) =>
    lines.flatMap((line) => {
      const currencies = Object.entries(line.revenue);
      return currencies.length === 0
        ? [{ dimension, value: line.value, members: line.members, currency: '', first_year_revenue: 0 }]
        : currencies.map(([currency, amount]) => ({
            dimension,
            value: line.value,
            members: line.members,
            currency,
            first_year_revenue: amount,
          }));
    }),
  );
}

export const FUNNEL_COLUMNS = ['day', 'placement', 'view', 'click', 'started', 'paid'] as const;
