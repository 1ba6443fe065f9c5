// The three ways a news site embeds a campaign, as the console offers them for copying: the
// widget (script + custom element), the iframe (sites that run no third-party scripts) and the
// SVG image (emails, AMP). Options are one list so a new one (issue 20's "readers sponsored") is
// one more entry here and in each embed.

export interface EmbedOptions {
  locale: 'en' | 'uk';
  accent?: string;
  /** Show "All thanks to N supporters" under the progress. */
  supporters: boolean;
  /**
   * The card's colours: `light`, `dark`, or `auto` (the default): the host page's colour scheme
   * where the embed can tell it, else light (src/campaigns/README.md, "Light and dark").
   */
  theme: EmbedTheme;
  /** The console's preview only: the page background the embeds are previewed on. */
  page: 'light' | 'dark';
}

export type EmbedTheme = 'light' | 'dark' | 'auto';

/**
 * The iframe element's style. color-scheme:light matches the framed page's, whatever the host
 * declares, so Chromium paints no opaque canvas around the card (README, "Light and dark").
 */
export const IFRAME_STYLE = 'border:0;color-scheme:light';

const ACCENT = /^#[0-9a-f]{6}$/i;

/**
 * The iframe's height until its content reports its own (embed/iframe-resize.js), or for good on a
 * site that runs no script at all: the demo drive's title with every option, in both languages, on
 * a 320 px phone (three lines of title in Ukrainian), so no button is cut without JavaScript.
 */
export const IFRAME_FALLBACK_HEIGHT = 340;

export function embedOptions(query: Record<string, unknown>): EmbedOptions {
  const accent = typeof query.accent === 'string' && ACCENT.test(query.accent) ? query.accent : undefined;
  return {
    locale: query.locale === 'uk' ? 'uk' : 'en',
    accent,
    supporters: query.supporters === '1' || query.supporters === 'on' || query.supporters === 'true',
    theme: query.theme === 'dark' || query.theme === 'light' ? query.theme : 'auto',
    page: query.page === 'dark' ? 'dark' : 'light',
  };
}

const escapeAttr = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/** The query string the iframe and the image take for these options. */
export function embedQuery(options: EmbedOptions): string {
  const query = new URLSearchParams({ locale: options.locale });
  if (options.accent) query.set('accent', options.accent);
  if (options.supporters) query.set('supporters', '1');
  if (options.theme !== 'auto') query.set('theme', options.theme);
  return query.toString();
}

export function embedSnippets(origin: string, slug: string, options: EmbedOptions) {
  const attributes = [
    `campaign="${escapeAttr(slug)}"`,
    `locale="${options.locale}"`,
    ...(options.accent ? [`accent="${options.accent}"`] : []),
    ...(options.supporters ? ['show-supporters'] : []),
    ...(options.theme !== 'auto' ? [`theme="${options.theme}"`] : []),
  ].join(' ');
  const query = embedQuery(options);
  const title = options.locale === 'uk' ? 'Поступ кампанії' : 'Membership drive progress';
  return {
    query,
    widget: `<script src="${origin}/widget.js" async></script>\n<membership-goal ${attributes}></membership-goal>`,
    iframe: `<iframe src="${origin}/campaigns/${slug}/widget?${escapeAttr(query)}" title="${title}" width="100%" height="${IFRAME_FALLBACK_HEIGHT}" style="${IFRAME_STYLE}" loading="lazy"></iframe>\n<script src="${origin}/embed/iframe-resize.js" async></script>`,
    image: `<a href="${origin}/membership"><img src="${origin}/campaigns/${slug}/progress.svg?${escapeAttr(query)}" alt="${title}" width="480" height="${options.supporters ? 120 : 96}"></a>`,
    widgetAttributes: {
      locale: options.locale,
      accent: options.accent,
      supporters: options.supporters,
      theme: options.theme,
    },
  };
}
