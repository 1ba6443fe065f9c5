import { signLink, verifyLink } from '../infra/signed-links.js';

// The dunning email's "Update my card": a signed link naming the Stripe customer and the failed
// invoice, good for CARD_LINK_DAYS after the invoice and for one use. It is computed, not stored:
// the webhook (and a replay of it) writes the same link, and nothing needs cleaning up. Memberships
// writes it into the payment-failed email; the account pages (accounts/card-update.ts) read and
// spend it.

export const CARD_LINK_DAYS = 14;
const PURPOSE = 'card-update';

export interface CardLink {
  customer: string;
  invoice: string;
  /** Unix seconds after which the link no longer works. */
  expires: number;
}

export function cardUpdateUrl(
  publicBaseUrl: string,
  secret: string,
  link: { customer: string; invoice: string; invoiceCreated: number },
): string {
  const expires = link.invoiceCreated + CARD_LINK_DAYS * 86_400;
  const query = new URLSearchParams({
    c: link.customer,
    i: link.invoice,
    e: String(expires),
    sig: signLink(secret, PURPOSE, link.customer, link.invoice, String(expires)),
  });
  return `${publicBaseUrl}/account/card?${query}`;
}

/** The link's customer and invoice when its signature holds and it has not expired. */
export function readCardLink(
  secret: string,
  input: Record<string, unknown>,
  now: Date,
): CardLink | undefined {
  const { c, i, e, sig } = input;
  if (typeof c !== 'string' || typeof i !== 'string' || typeof e !== 'string' || typeof sig !== 'string')
    return undefined;
  if (!/^\d{1,12}$/.test(e) || c.length > 100 || i.length > 100 || sig.length > 100) return undefined;
  if (!verifyLink(secret, sig, PURPOSE, c, i, e)) return undefined;
  if (Number(e) * 1000 <= now.getTime()) return undefined;
  return { customer: c, invoice: i, expires: Number(e) };
}
