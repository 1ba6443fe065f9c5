import { enqueueMarketingSync } from './marketing-sync.js';
import { type NewsletterSubscription, newsletterModels } from './newsletter.model.js';
import {
  type ConsentContext,
  type NewsletterDeps,
  recordConsent,
  sha256,
  subscriptionId,
} from './newsletter.service.js';

// A reader's preferences: the lists they are on, and leaving some or all of them.

/**
 * Names a subscription that ends, without its address: the subscription and when it began. Two
 * clicks racing to unsubscribe end the same one, so a receiver hears of it once (the webhook's key).
 */
const endedSubscription = (s: NewsletterSubscription) =>
  sha256(`${s._id}:${(s.confirmedAt ?? s.requestedAt)?.getTime() ?? 0}`);

/** Unsubscribes from the given lists (or every list); nothing else happens to lists not named. */
export async function unsubscribe(
  deps: NewsletterDeps,
  email: string,
  lists: string[] | 'all',
  context: ConsentContext,
): Promise<string[]> {
  const { Subscription } = newsletterModels(deps.db);
  const current = (await listSubscriptions(deps, email)).filter((s) => s.status !== 'unsubscribed');
  const targets = current.filter((s) => lists === 'all' || lists.includes(s.list));
  const now = deps.clock.now();
  for (const subscription of targets) {
    await Subscription.updateOne(
      { _id: subscription._id },
      { $set: { status: 'unsubscribed', unsubscribedAt: now } },
    );
    await enqueueMarketingSync(deps, { email, list: subscription.list, action: 'remove', at: now });
  }
  if (targets.length === 0) return [];
  const consents = await recordConsent(
    deps,
    email,
    targets.map((s) => s.list),
    'unsubscribed',
    context,
  );
  for (const [i, subscription] of targets.entries())
    await deps.events?.publish('newsletter.unsubscribed', {
      subscription: endedSubscription(subscription),
      list: subscription.list,
      consentId: String(consents[i]!._id),
      unsubscribedAt: now,
    });
  return targets.map((s) => s.list);
}

/**
 * The reader's subscriptions to the configured lists, by `_id` (`<list>:<email>`): what the
 * preferences page and unsubscribing read, without scanning every subscription of every reader.
 */
export async function listSubscriptions(
  deps: Pick<NewsletterDeps, 'db' | 'lists'>,
  email: string,
): Promise<NewsletterSubscription[]> {
  const { Subscription } = newsletterModels(deps.db);
  const found = await Promise.all(
    deps.lists.map((l) =>
      Subscription.findById(subscriptionId(l.slug, email)).lean<NewsletterSubscription>(),
    ),
  );
  return found
    .filter((s): s is NewsletterSubscription => s !== null)
    .sort((a, b) => a.list.localeCompare(b.list));
}
