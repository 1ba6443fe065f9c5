import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { claimOnce } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import type { CardLink } from '../memberships/card-link.js';

// Opening the dunning email's card link (memberships/card-link.ts makes and reads it) shows a
// button (mail scanners that follow links must not spend it); pressing it claims the link and
// opens a Stripe Customer Portal session straight on "update payment method".

// The account routes read the link from here, beside the step that spends it.
export { readCardLink } from '../memberships/card-link.js';

/** Spends the link (once, across processes) and opens the portal on the card form; undefined if spent. */
export async function openCardUpdate(
  deps: { db: Connection; clock: Clock; stripe: Stripe; publicBaseUrl: string },
  link: CardLink,
): Promise<string | undefined> {
  const id = createHash('sha256').update(`${link.customer}\n${link.invoice}\n${link.expires}`).digest('hex');
  if (!(await claimOnce(deps.db, `card-link-used:${id}`, deps.clock.now()))) return undefined;
  const session = await deps.stripe.billingPortal.sessions.create({
    customer: link.customer,
    return_url: `${deps.publicBaseUrl}/account`,
    flow_data: { type: 'payment_method_update' },
  });
  return session.url;
}
