import { escapeHtml } from '../http/pages.js';
import { type Locale, translate } from '../shared/messages.js';
import { checkpointStatement, type Progress, thankedSupporters } from './progress.service.js';

const esc = escapeHtml;

export interface SvgOptions {
  accent: string;
  locale?: Locale;
  /** Adds "All thanks to N supporters" under the numbers (once known, and not 0). */
  supporters?: boolean;
  /** light or dark; auto (the default) is dark where the viewer's system is (no page to ask). */
  theme?: 'light' | 'dark' | 'auto';
}

const DARK_RULES =
  '.bg { fill: #18181b; stroke: #52525b } .text { fill: #f4f4f5 } .muted { fill: #d4d4d8 } .track { fill: #3f3f46 }';

/**
 * The progress bar as an image, for newsletters and pages that run no JavaScript at all. Its words
 * come from the message catalogue; where the reader's system is dark (and the image is shown where
 * media queries apply, as in browsers), it is drawn dark.
 */
export function progressSvg(progress: Progress, options: SvgOptions): string {
  const locale = options.locale ?? 'en';
  const width = 480;
  const thanked = options.supporters ? thankedSupporters(progress) : undefined;
  const withSupporters = thanked !== undefined;
  const height = withSupporters ? 120 : 96;
  const filled = Math.round((Math.min(100, progress.percent) / 100) * (width - 32));
  const summary = `${translate(locale, 'embed.goal', { count: progress.count, goal: progress.goal })} (${progress.percent}%)`;
  const days =
    progress.daysLeft > 0
      ? translate(locale, 'embed.daysLeft', { count: progress.daysLeft })
      : translate(locale, 'embed.ended');
  const supporters = withSupporters
    ? `\n  <text class="muted" x="16" y="106" font-family="Arial, sans-serif" font-size="14" fill="#52525b">${esc(translate(locale, 'embed.supporters', { count: thanked }))}</text>`
    : '';
  // Which checkpoint the number comes from, without drawing anything: in <desc> (read out as the
  // image's description) and as data-checkpoint-* attributes for scripts (README, "What each embed
  // says about the log").
  const { checkpoint } = progress;
  const checkpointData = checkpoint
    ? ` data-checkpoint-sequence="${checkpoint.sequence}" data-checkpoint-size="${checkpoint.size}" data-checkpoint-root="${esc(checkpoint.root)}" data-checkpoint-count="${checkpoint.count}" data-pending="${progress.pending}"`
    : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`${progress.title}: ${summary}`)}"${checkpointData}>
  <title>${esc(`${progress.title}: ${summary}`)}</title>
  <desc>${esc(checkpointStatement(progress, locale))}</desc>
  <style>${styleFor(options.theme ?? 'auto')}</style>
  <rect class="bg" width="${width}" height="${height}" rx="8" fill="#ffffff" stroke="#e4e4e7"/>
  <text class="text" x="16" y="28" font-family="Arial, sans-serif" font-size="16" font-weight="700" fill="#18181b">${esc(progress.title)}</text>
  <rect class="track" x="16" y="40" width="${width - 32}" height="14" rx="7" fill="#e4e4e7"/>
  <rect x="16" y="40" width="${filled}" height="14" rx="7" fill="${esc(options.accent)}"/>
  <text class="text" x="16" y="80" font-family="Arial, sans-serif" font-size="14" fill="#18181b">${esc(summary)}</text>
  <text class="muted" x="${width - 16}" y="80" text-anchor="end" font-family="Arial, sans-serif" font-size="14" fill="#52525b">${esc(days)}</text>${supporters}
</svg>`;
}

function styleFor(theme: 'light' | 'dark' | 'auto'): string {
  if (theme === 'light') return '';
  return theme === 'dark' ? DARK_RULES : `@media (prefers-color-scheme: dark) { ${DARK_RULES} }`;
}
