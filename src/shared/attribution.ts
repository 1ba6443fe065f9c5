// Where a checkout came from: the page, the placement on it, the referrer, the UTM tags and a
// newsletter. Carried through Stripe Checkout as metadata and kept on the member and on each
// ledger entry. Values are already bounded and stripped of anything personal by
// src/memberships/attribution-input.ts; this file only maps them to and from Stripe metadata.

export interface Attribution {
  /** The article: host and path, no query string or fragment (`news.example/2026/story`). */
  page?: string;
  /** Where on the page: `widget`, `button`, `inline`, or the snippet's `data-placement`. */
  placement?: string;
  /** The referring site's host only (`www.google.com`). */
  referrer?: string;
  utmSource?: string;
  utmMedium?: string;
  utmCampaign?: string;
  utmContent?: string;
  utmTerm?: string;
  /** A newsletter id, or the utm_source of an email visit (utm_medium=email). */
  newsletter?: string;
}

export const ATTRIBUTION_FIELDS = [
  'page',
  'placement',
  'referrer',
  'utmSource',
  'utmMedium',
  'utmCampaign',
  'utmContent',
  'utmTerm',
  'newsletter',
] as const satisfies readonly (keyof Attribution)[];

// Stripe metadata: at most 50 keys, keys up to 40 characters, values up to 500. Ours are `attr_*`.
const metadataKey = (field: keyof Attribution) => `attr_${field}`;

export function attributionToMetadata(attribution: Attribution | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const field of ATTRIBUTION_FIELDS) {
    const value = attribution?.[field];
    if (value) metadata[metadataKey(field)] = value;
  }
  return metadata;
}

/** What metadata carried, or undefined when it carried nothing (a checkout from before, an import). */
export function attributionFromMetadata(
  metadata: Record<string, string | undefined> | null | undefined,
): Attribution | undefined {
  const attribution: Attribution = {};
  for (const field of ATTRIBUTION_FIELDS) {
    const value = metadata?.[metadataKey(field)];
    // Bounded again: metadata can be edited in Stripe's dashboard.
    if (typeof value === 'string' && value.length > 0) attribution[field] = value.slice(0, 500);
  }
  return Object.keys(attribution).length > 0 ? attribution : undefined;
}
