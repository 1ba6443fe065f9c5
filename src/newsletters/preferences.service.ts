import { enqueueMarketingSync } from './marketing-sync.js';
import { type NewsletterSubscription, newsletterModels } from './newsletter.model.js';
import {
  type ConsentContext,
  type NewsletterDeps,
  recordConsent,
  subscriptionId,
} from './newsletter.service.js';

// A reader's preferences: the lists they are on, and leaving some or all of them.

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
  if (targets.length > 0)
    await recordConsent(
      deps,
      email,
      targets.map((s) => s.list),
      'unsubscribed',
      context,
    );
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
