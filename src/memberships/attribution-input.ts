import { z } from 'zod';
import { AppError, type ErrorDetail } from '../http/errors.js';
import type { Attribution } from '../shared/attribution.js';

// Where a checkout came from, as the widget, the buttons and the hosted page send it. Bounded and
// stripped before it goes anywhere: a page keeps host and path only (query strings carry session
// ids, search terms and sometimes addresses; utm_* are taken out of them first), a referrer keeps
// its host only, and no value may look like an email address. What is wrong is refused with
// `attribution_invalid` and one detail per field, rather than stored half-right.

/** The fields as the request carries them (snake_case UTM names, as in a URL). */
export const attributionFields = {
  page: z.string().max(4000).optional().meta({ description: 'The article: a URL or a path from /' }),
  placement: z
    .string()
    .max(4000)
    .optional()
    .meta({ description: '`widget`, `button`, `inline` or a data-placement: [a-z0-9_-], up to 40' }),
  referrer: z.string().max(4000).optional().meta({ description: 'document.referrer; only its host is kept' }),
  utm_source: z.string().max(4000).optional(),
  utm_medium: z.string().max(4000).optional(),
  utm_campaign: z.string().max(4000).optional(),
  utm_content: z.string().max(4000).optional(),
  utm_term: z.string().max(4000).optional(),
  newsletter: z.string().max(4000).optional().meta({ description: 'A newsletter id: [a-z0-9_-], up to 60' }),
};

export type AttributionInput = { [K in keyof typeof attributionFields]?: string };

export const LIMITS = { page: 300, placement: 40, referrer: 253, utm: 100, newsletter: 60 };
const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
const EMAIL_LIKE = /[^\s/@]+@[^\s/@]+\.[^\s/@]+/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const UTM = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'] as const;
const UTM_FIELD = {
  utm_source: 'utmSource',
  utm_medium: 'utmMedium',
  utm_campaign: 'utmCampaign',
  utm_content: 'utmContent',
  utm_term: 'utmTerm',
} as const;

function parseUrl(value: string, base?: string): URL | undefined {
  try {
    const url = new URL(value, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** A placement as the beacon and checkout accept it, or undefined. */
export function placementOf(value: string | undefined): string | undefined {
  const placement = value?.trim().toLowerCase();
  return placement && placement.length <= LIMITS.placement && SLUG.test(placement) ? placement : undefined;
}

/** The bounded, stripped attribution of a checkout request; throws `attribution_invalid`. */
export function parseAttribution(input: AttributionInput): Attribution | undefined {
  const problems: ErrorDetail[] = [];
  const refuse = (path: string, message: string) => {
    problems.push({ path, message });
    return undefined;
  };
  const attribution: Attribution = {};
  const given = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);

  const page = given(input.page);
  let pageUtm: URLSearchParams | undefined;
  if (page) {
    const url =
      page.startsWith('/') && !page.startsWith('//') ? parseUrl(page, 'http://site.invalid') : parseUrl(page);
    if (!url) refuse('page', 'Send the page as an http(s) URL or a path starting with /.');
    else {
      pageUtm = url.searchParams;
      const kept = page.startsWith('/') ? url.pathname : `${url.hostname}${url.pathname}`;
      if (kept.length > LIMITS.page)
        refuse('page', `The page may be at most ${LIMITS.page} characters without its query string.`);
      else if (EMAIL_LIKE.test(decodeURIComponent(kept)))
        refuse('page', 'The page looks like it contains an email address.');
      else attribution.page = kept;
    }
  }

  const placement = given(input.placement);
  if (placement) {
    attribution.placement = placementOf(placement);
    if (!attribution.placement)
      refuse('placement', `A placement is up to ${LIMITS.placement} letters, digits, - and _.`);
  }

  const referrer = given(input.referrer);
  if (referrer) {
    const url = parseUrl(referrer);
    if (!url) refuse('referrer', 'Send the referrer as an http(s) URL.');
    else attribution.referrer = url.hostname.slice(0, LIMITS.referrer);
  }

  for (const name of UTM) {
    // A tag sent on its own wins over the same tag in the page's query string.
    const value = given(input[name]) ?? given(pageUtm?.get(name) ?? undefined);
    if (!value) continue;
    if (value.length > LIMITS.utm) refuse(name, `${name} may be at most ${LIMITS.utm} characters.`);
    else if (CONTROL.test(value)) refuse(name, `${name} contains control characters.`);
    else if (EMAIL_LIKE.test(value))
      refuse(name, `${name} looks like an email address; tags must not name readers.`);
    else attribution[UTM_FIELD[name]] = value;
  }

  const newsletter = given(input.newsletter)?.toLowerCase();
  if (newsletter) {
    if (newsletter.length > LIMITS.newsletter || !SLUG.test(newsletter))
      refuse('newsletter', `A newsletter id is up to ${LIMITS.newsletter} letters, digits, - and _.`);
    else attribution.newsletter = newsletter;
  } else if (attribution.utmSource && /^(e-?mail|newsletter)$/i.test(attribution.utmMedium ?? '')) {
    // A visit from an email counts for the newsletter its utm_source names.
    attribution.newsletter = attribution.utmSource.toLowerCase().slice(0, LIMITS.newsletter);
  }

  if (problems.length > 0) throw new AppError('attribution_invalid', undefined, problems);
  return Object.keys(attribution).length > 0 ? attribution : undefined;
}
