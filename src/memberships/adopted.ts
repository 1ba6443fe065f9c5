import type { Connection } from 'mongoose';
import { findMemberByCustomer } from './member-keys.js';
import { membershipModels } from './membership.model.js';

// Whether a Stripe object without our `metadata.app` is ours anyway: the newsroom's own account,
// whose existing subscriptions `npm run import -- stripe` adopted. The Stripe handlers ask this
// only for objects that are not tagged as ours, and it reads by primary key only (the subscription
// mirror by its Stripe id, the member by its `customer:` key), so an event never scans.

export interface AdoptionDeps {
  db: Connection;
  /** STRIPE_ADOPT_UNTAGGED: every untagged object on the account is ours. */
  adoptUntagged?: boolean;
}

export async function isAdoptedStripeObject(
  deps: AdoptionDeps,
  ids: { subscriptionId?: string; customerId?: string },
): Promise<boolean> {
  if (deps.adoptUntagged) return true;
  if (ids.subscriptionId) {
    const mirror = await membershipModels(deps.db)
      .Subscription.findById(ids.subscriptionId)
      .select({ source: 1 })
      .lean();
    if (mirror?.source === 'imported') return true;
  }
  if (ids.customerId) return (await findMemberByCustomer(deps.db, ids.customerId))?.source === 'imported';
  return false;
}
