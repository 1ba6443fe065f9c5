import Handlebars from 'handlebars';
import type { Progress } from './progress.service.js';

const esc = Handlebars.escapeExpression;
const number = new Intl.NumberFormat('en-US');

/** The progress bar as an image, for newsletters and pages that run no JavaScript at all. */
export function progressSvg(progress: Progress, accent = '#1a56db'): string {
  const width = 480;
  const filled = Math.round((Math.min(100, progress.percent) / 100) * (width - 32));
  const summary = `${number.format(progress.count)} of ${number.format(progress.goal)} new members (${progress.percent}%)`;
  const days =
    progress.daysLeft > 0
      ? `${progress.daysLeft} day${progress.daysLeft === 1 ? '' : 's'} left`
      : 'The drive has ended';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="96" viewBox="0 0 ${width} 96" role="img" aria-label="${esc(`${progress.title}: ${summary}`)}">
  <title>${esc(`${progress.title}: ${summary}`)}</title>
  <rect width="${width}" height="96" rx="8" fill="#ffffff" stroke="#e4e4e7"/>
  <text x="16" y="28" font-family="Arial, sans-serif" font-size="16" font-weight="700" fill="#18181b">${esc(progress.title)}</text>
  <rect x="16" y="40" width="${width - 32}" height="14" rx="7" fill="#e4e4e7"/>
  <rect x="16" y="40" width="${filled}" height="14" rx="7" fill="${esc(accent)}"/>
  <text x="16" y="80" font-family="Arial, sans-serif" font-size="14" fill="#18181b">${esc(summary)}</text>
  <text x="${width - 16}" y="80" text-anchor="end" font-family="Arial, sans-serif" font-size="14" fill="#52525b">${esc(days)}</text>
</svg>`;
}
