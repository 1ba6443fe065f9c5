import { randomUUID } from 'node:crypto';
import { listAtAddress } from '../email/address-records.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { suppressionBlocking } from '../email/suppression.service.js';
import { claimOnce, decideOnce, hasClaim } from '../infra/claims.js';
import { isDuplicateKey } from '../infra/db.js';
import { jobIdFor } from '../infra/due.js';
import { signLink } from '../infra/signed-links.js';
import { enqueueMarketingSync } from './marketing-sync.js';
import { type ConfirmationToken, type NewsletterSubscription, newsletterModels } from './newsletter.model.js';
import {
  type ConsentContext,
  consentItems,
  consentRecords,
  dataUrl,
  dropUndefined,
  listName,
  type NewsletterDeps,
  preferencesUrl,
  recordConsent,
  sha256,
  subscriptionId,
  writeConsents,
} from './newsletter.service.js';

// Double opt-in: a sign-up makes its lists pending and mails a confirmation link; the link's
// button confirms them; an expired link can ask for a new one.

/** At most one confirmation email per address and list per this window, however many requests arrive. */
export const CONFIRMATION_EMAIL_WINDOW_MS = 15 * 60_000;

/** Names go into emails; a name carrying a link could turn our confirmation mail into spam. */
export function cleanName(name: string | undefined): string | undefined {
  const trimmed = name?.trim();
  if (!trimmed || /(https?:|www\.|\w\.(com|net|org|ru|io|xyz|info|biz|top)\b|[<>@/\\])/i.test(trimmed))
    return undefined;
  return trimmed.slice(0, 100);
}

/**
 * A sign-up from the form or the API. Every address, known or not, goes through the same steps, so
 * the answer (and its timing) says nothing about who is subscribed. Lists already confirmed stay
 * so; the rest become pending and a confirmation email goes out, at most once per address and list per window, never
 * to a suppressed address.
 *
 * On the embedded database every write is its own commit behind one writer, so what a reader waits
 * for is the number of writes in a row: writes that do not depend on each other go together
 * (`admit`, the caller's rate limit, with the suppression read; each list's subscription with the
 * consent record; each list's token). The token, the job's due marker and the job stay
 * in that order: an email must never carry a link whose token was not stored (src/infra/due.ts
 * explains the marker).
 */
export async function subscribe(
  deps: NewsletterDeps,
  input: { email: string; lists: string[]; name?: string; locale: string },
  context: ConsentContext,
  admit: () => Promise<void> = async () => {},
): Promise<void> {
  const now = deps.clock.now();
  const name = cleanName(input.name);
  // Only a read beside the admission: a refused request still changes nothing.
  const [suppressed] = await Promise.all([
    suppressionBlocking(deps.db, input.email, 'transactional'),
    admit(),
  ]);
  // What this sign-up may write is listed under the address first, in one write, for the reader's
  // data export and erasure (email/address-records.ts): each list's subscription, the consent
  // records, and each list's token of this window and its confirmation email (listed whether or
  // not they get written; a token for several lists lists itself).
  const window = Math.floor(now.getTime() / CONFIRMATION_EMAIL_WINDOW_MS);
  const consents = consentRecords(input.email, input.lists, 'opt_in_requested', context, now);
  const tokenHashes = input.lists.map((list) => sha256(confirmationToken(deps, input.email, [list], window)));
  await listAtAddress(deps.db, input.email, [
    ...input.lists.map((list) => ({ kind: 'subscription' as const, ref: list })),
    ...consentItems(consents),
    ...tokenHashes.map((hash) => ({ kind: 'token' as const, ref: hash })),
    ...tokenHashes.map((hash) => ({
      kind: 'email-job' as const,
      ref: String(jobIdFor(`newsletter-confirmation:${hash}`)),
    })),
  ]);
  const [requested] = await Promise.all([
    Promise.all(input.lists.map((list) => requestList(deps, list, input, name, now))),
    writeConsents(deps.db, consents),
  ]);
  const needConfirmation = input.lists.filter((_, i) => requested[i]);
  if (needConfirmation.length === 0 || suppressed) return;
  // The limit is per address and list: a reader who signs up for a second list a minute after the
  // first still gets that list's confirmation; a burst naming one list sends it once. Each list's
  // decision is the insert of its own token (see storeToken): for one list, that is the token mailed.
  const request = { by: randomUUID(), asked: needConfirmation };
  const perList = await Promise.all(
    needConfirmation.map((list) => storeToken(deps, input.email, [list], window, now, request, true)),
  );
  const toConfirm = needConfirmation.filter((_, i) => perList[i]!.created);
  const emails = new Map<string, string[]>(); // token -> the lists its email confirms
  // One email for several lists carries one token for all of them.
  if (toConfirm.length === 1) emails.set(perList.find((t) => t.created)!.token, toConfirm);
  else if (toConfirm.length > 1)
    emails.set((await storeToken(deps, input.email, toConfirm, window, now, request)).token, toConfirm);
  // A list decided before: its email was queued then, unless that request failed after deciding
  // (the database went away), and this may be the reader trying again. Queue it again; its key
  // makes that a no-op when it was queued.
  const decidedBefore = needConfirmation.filter((_, i) => !perList[i]!.created);
  for (const earlier of await emailsOfEarlierRequests(deps, input.email, decidedBefore, window, now))
    emails.set(earlier.token, earlier.lists);
  await Promise.all(
    [...emails].map(([token, lists]) =>
      enqueueEmail(deps.db, deps.clock, {
        template: 'newsletter-confirmation',
        to: { email: input.email, name },
        locale: input.locale,
        data: {
          name,
          lists: lists.map((slug) => listName(deps, slug)),
          confirmUrl: `${deps.publicBaseUrl}/newsletters/confirm?token=${token}`,
        },
        idempotencyKey: `newsletter-confirmation:${sha256(token)}`,
        listed: lists.length === 1, // listed above with its token
      }),
    ),
  );
}

const confirmationToken = (deps: NewsletterDeps, email: string, lists: string[], window: number) =>
  signLink(deps.linkSecret, 'newsletter-confirmation', email, lists.join(','), String(window));

/**
 * Stores the confirmation token for an address, its lists and a window; `created` is false when it
 * was stored before. The token is an HMAC of those under the link secret, as unguessable as a random
 * one to anyone without the secret (and stored only as its hash), but the same for a second request
 * in the same window: so its unique insert is also the decision "one confirmation email per address
 * and list per window", one write where a claim and a random token took two. The request that
 * decided is kept with it (`request`), so that a later request can rebuild that request's email.
 */
async function storeToken(
  deps: NewsletterDeps,
  email: string,
  lists: string[],
  window: number,
  now: Date,
  request: { by: string; asked: string[] },
  listed = false,
): Promise<{ token: string; created: boolean }> {
  const token = confirmationToken(deps, email, lists, window);
  if (!listed) await listAtAddress(deps.db, email, [{ kind: 'token', ref: sha256(token) }]);
  const stored: ConfirmationToken = {
    _id: sha256(token),
    email,
    lists,
    expiresAt: new Date(now.getTime() + deps.confirmationHours * 3_600_000),
    request,
  };
  try {
    await newsletterModels(deps.db).Token.collection.insertOne(stored as never);
    return { token, created: true };
  } catch (error) {
    if (isDuplicateKey(error)) return { token, created: false };
    throw error;
  }
}

/**
 * The emails the earlier requests in this window that decided `lists` queued (or were about to
 * queue): each for the lists its request decided. Known once every list that request asked for is
 * decided, by it or by another request; until then it may still decide more, and a guess could put a
 * list in two emails. Each decision is read once, however many of those requests name it.
 */
async function emailsOfEarlierRequests(
  deps: NewsletterDeps,
  email: string,
  lists: string[],
  window: number,
  now: Date,
): Promise<{ token: string; lists: string[] }[]> {
  const { Token } = newsletterModels(deps.db);
  const reads = new Map<string, Promise<ConfirmationToken | null>>();
  const decisionOf = (list: string) => {
    let read = reads.get(list);
    if (!read) {
      read = Token.findById(sha256(confirmationToken(deps, email, [list], window)))
        .lean<ConfirmationToken>()
        .exec();
      reads.set(list, read);
    }
    return read;
  };
  const requests = new Map<string, { by: string; asked: string[] }>();
  for (const decision of await Promise.all(lists.map(decisionOf)))
    if (decision?.request) requests.set(decision.request.by, decision.request);
  const found = await Promise.all(
    [...requests.values()].map(async (request) => {
      const decisions = await Promise.all(request.asked.map(decisionOf));
      if (decisions.some((decision) => !decision)) return undefined;
      const decided = request.asked.filter((_, i) => decisions[i]!.request?.by === request.by);
      if (decided.length === 1)
        return { token: confirmationToken(deps, email, decided, window), lists: decided };
      // Stored again before it is mailed (an email never carries a token that was not stored).
      const { token } = await storeToken(deps, email, decided, window, now, request);
      return { token, lists: decided };
    }),
  );
  return found.filter((earlier) => earlier !== undefined);
}

/** Makes one list pending for the address unless it is confirmed; true when it needs a confirmation. */
async function requestList(
  deps: NewsletterDeps,
  list: string,
  input: { email: string; locale: string },
  name: string | undefined,
  now: Date,
): Promise<boolean> {
  const { Subscription } = newsletterModels(deps.db);
  const id = subscriptionId(list, input.email);
  try {
    const subscription: NewsletterSubscription = dropUndefined({
      _id: id,
      list,
      email: input.email,
      name,
      locale: input.locale,
      status: 'pending',
      requestedAt: now,
    });
    await Subscription.collection.insertOne(subscription as never);
    return true;
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
  const existing = await Subscription.findById(id).lean<NewsletterSubscription>();
  if (existing?.status === 'confirmed') return false;
  if (existing?.status === 'unsubscribed') {
    await Subscription.updateOne(
      { _id: id },
      { $set: { status: 'pending', requestedAt: now, name, locale: input.locale } },
    );
  }
  return true;
}

export type ConfirmResult =
  | { outcome: 'confirmed' | 'already_confirmed'; email: string; lists: string[] }
  | { outcome: 'expired'; email: string }
  | { outcome: 'invalid' };

/** Spends a confirmation token: the lists become confirmed once; the same link again says so. */
export async function confirm(
  deps: NewsletterDeps,
  token: string,
  context: ConsentContext,
): Promise<ConfirmResult> {
  const { Subscription, Token } = newsletterModels(deps.db);
  const hash = sha256(token);
  const stored = await Token.findById(hash).lean();
  if (!stored) return { outcome: 'invalid' };
  const now = deps.clock.now();
  if (stored.expiresAt <= now) return { outcome: 'expired', email: stored.email };
  // The first click decides when the lists were confirmed; a click after a failure half-way (or a
  // few seconds after a click that died) finishes the same confirmation, step by idempotent step.
  const { won, decision, decidedAt } = await decideOnce(deps.db, `newsletter-confirmed:${hash}`, now, {
    at: now.toISOString(),
  });
  const alreadyConfirmed = {
    outcome: 'already_confirmed' as const,
    email: stored.email,
    lists: stored.lists,
  };
  const done = `newsletter-confirmation-done:${hash}`;
  if (await hasClaim(deps.db, done)) return alreadyConfirmed;
  // A click a few seconds after another is a double click whose twin is finishing the work.
  if (!won && now.getTime() - decidedAt.getTime() < 10_000) return alreadyConfirmed;
  const at = new Date(decision?.at ?? decidedAt);
  const confirmed: string[] = [];
  for (const list of stored.lists) {
    const id = subscriptionId(list, stored.email);
    const subscription = await Subscription.findById(id).lean<NewsletterSubscription>();
    if (subscription?.status === 'pending') {
      await Subscription.updateOne({ _id: id }, { $set: { status: 'confirmed', confirmedAt: at } });
      confirmed.push(list);
    } else if (subscription?.status === 'confirmed' && subscription.confirmedAt?.getTime() === at.getTime()) {
      confirmed.push(list); // confirmed by an earlier try of this same click
    }
  }
  if (confirmed.length === 0) {
    await claimOnce(deps.db, done, now);
    return alreadyConfirmed;
  }
  const consents = await recordConsent(deps, stored.email, confirmed, 'confirmed', context);
  // Told before the last step, so a retried click tells it again; the webhook's key is the token's
  // hash and the list, so a receiver hears each list's confirmation once.
  for (const consent of consents)
    await deps.events?.publish('newsletter.confirmed', {
      confirmation: hash,
      list: consent.list,
      consentId: String(consent._id),
      confirmedAt: at,
    });
  const first = await Subscription.findById(
    subscriptionId(confirmed[0]!, stored.email),
  ).lean<NewsletterSubscription>();
  for (const list of confirmed) {
    await enqueueMarketingSync(deps, {
      email: stored.email,
      name: first?.name,
      list,
      action: 'add',
      at,
    });
  }
  await enqueueEmail(deps.db, deps.clock, {
    template: 'newsletter-welcome',
    to: { email: stored.email, name: first?.name },
    locale: first?.locale,
    data: {
      name: first?.name,
      lists: confirmed.map((slug) => listName(deps, slug)),
      preferencesUrl: preferencesUrl(deps, stored.email),
      dataUrl: dataUrl(deps, stored.email, Math.floor(now.getTime() / 1000) + 30 * 86_400),
    },
    // RFC 8058 one-click unsubscribe from the lists this mail is about.
    listUnsubscribeUrl: preferencesUrl(deps, stored.email),
    idempotencyKey: `newsletter-welcome:${hash}`,
  });
  await claimOnce(deps.db, done, now); // last: every step above is finished
  return { outcome: 'confirmed', email: stored.email, lists: confirmed };
}

/**
 * A new confirmation email for the reader of an expired link: the same steps as a sign-up for its
 * address and lists. A token we never stored changes nothing, and the answer does not say so.
 */
export async function resendConfirmation(
  deps: NewsletterDeps,
  token: string,
  context: ConsentContext,
): Promise<void> {
  const stored = await newsletterModels(deps.db).Token.findById(sha256(token)).lean();
  if (stored) await subscribe(deps, { email: stored.email, lists: stored.lists, locale: 'en' }, context);
}
