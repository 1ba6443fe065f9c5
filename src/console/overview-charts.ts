import { escapeHtml } from '../http/pages.js';
import type { DriveDay } from '../reports/drive-overview.js';

// The overview's charts as inline SVG drawn on the server: readable without JavaScript, each with
// a title and a table of the same numbers beside it for screen readers.

const esc = escapeHtml;
const W = 720;
const H = 240;
const PAD = { left: 48, right: 16, top: 16, bottom: 32 };
const plotW = W - PAD.left - PAD.right;
const plotH = H - PAD.top - PAD.bottom;

const x = (i: number, n: number) => PAD.left + (n <= 1 ? 0 : (i / (n - 1)) * plotW);
const y = (v: number, max: number) => PAD.top + plotH - (max ? (v / max) * plotH : 0);

/** How the chart writes a day's key ("2026-11-16") for its reader. */
export type DayLabel = (day: string) => string;

function axes(days: DriveDay[], max: number, dayLabel: DayLabel): string {
  const n = days.length;
  const first = days[0] ? dayLabel(days[0].day) : '';
  const last = days.at(-1) ? dayLabel(days.at(-1)!.day) : '';
  return (
    `<line class="axis" x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}"/>` +
    `<line class="axis" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}"/>` +
    `<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end">${max}</text>` +
    `<text x="${PAD.left - 6}" y="${PAD.top + plotH}" text-anchor="end">0</text>` +
    `<text x="${x(0, n)}" y="${H - 8}">${esc(first)}</text>` +
    `<text x="${x(n - 1, n)}" y="${H - 8}" text-anchor="end">${esc(last)}</text>`
  );
}

/** The count so far against the goal, over the campaign's whole window (future days empty). */
export function cumulativeChart(
  title: string,
  days: DriveDay[],
  goal: number,
  labels: { goal: string; day: DayLabel },
): string {
  const counted = days.filter((d) => d.cumulative !== undefined);
  const max = Math.max(goal, ...counted.map((d) => d.cumulative!)) || 1;
  const points = counted.map((d, i) => `${x(i, days.length).toFixed(1)},${y(d.cumulative!, max).toFixed(1)}`);
  return (
    `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="cumulative-title"><title id="cumulative-title">${esc(title)}</title>` +
    axes(days, max, labels.day) +
    `<line class="goal" x1="${PAD.left}" y1="${y(goal, max)}" x2="${W - PAD.right}" y2="${y(goal, max)}"/>` +
    `<text x="${W - PAD.right}" y="${y(goal, max) - 6}" text-anchor="end">${esc(labels.goal)}</text>` +
    (points.length === 1
      ? `<circle cx="${points[0]!.split(',')[0]}" cy="${points[0]!.split(',')[1]}" r="4" fill="currentColor"/>`
      : `<polyline class="line" points="${points.join(' ')}"/>`) +
    `</svg>`
  );
}

const SOURCE_COLOURS = { checkout: '#2563eb', gift: '#db2777', oneTime: '#d97706' } as const;

/** New members per day, stacked by source. */
export function perDayChart(title: string, days: DriveDay[], dayLabel: DayLabel): string {
  const max = Math.max(1, ...days.map((d) => d.checkout + d.gift + d.oneTime));
  const slot = plotW / Math.max(1, days.length);
  const bars = days
    .map((d, i) => {
      let top = PAD.top + plotH;
      return (['checkout', 'gift', 'oneTime'] as const)
        .map((source) => {
          const h = (d[source] / max) * plotH;
          if (!h) return '';
          top -= h;
          return `<rect x="${(PAD.left + i * slot + slot * 0.15).toFixed(1)}" y="${top.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${SOURCE_COLOURS[source]}"/>`;
        })
        .join('');
    })
    .join('');
  return (
    `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="per-day-title"><title id="per-day-title">${esc(title)}</title>` +
    axes(days, max, dayLabel) +
    bars +
    `</svg>`
  );
}

/** The per-day chart's colours, each named by a catalogue key. */
export const SOURCE_LEGEND = [
  { label: 'console.source.checkout', colour: SOURCE_COLOURS.checkout },
  { label: 'console.source.gift', colour: SOURCE_COLOURS.gift },
  { label: 'console.source.oneTime', colour: SOURCE_COLOURS.oneTime },
] as const;
