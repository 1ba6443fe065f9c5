import { createHash, randomUUID } from 'node:crypto';
import type { Connection } from 'mongoose';
import { emailModels } from '../email/email.model.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { suppressionBlocking } from '../email/suppression.service.js';
import { claimOnce, decideOnce, hasClaim } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import { signLink } from '../infra/signed-links.js';
import { eraseAddressFromTemporaryRecords } from '../retention/retention.service.js';
import type { NewsletterList } from './lists.js';
import { enqueueMarketingSync } from './marketing-sync.js';
import { type ConfirmationToken, type NewsletterSubscription, newsletterModels } from './newsletter.model.js';

export interface NewsletterDeps {
  db: Connection;
  clock: Clock;
  lists: NewsletterList[];
  publicBaseUrl: string;
  linkSecret: string;
  /** How long a confirmation link works. */
  confirmationHours: number;
}

export interface ConsentContext {
  sourcePage?: string;
  ip?: string;
  userAgent?: string;
  consentTextVersion?: string;
}

/** At most one confirmation email per address and list per this window, however many requests arrive. */
export const CONFIRMATION_EMAIL_WINDOW_MS = 15 * 60_000;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const subscriptionId = (list: string, email: string) => `${list}:${email}`;

/** Names go into emails; a name carrying a link could turn our confirmation mail into spam. */
export function cleanName(name: string | undefined): string | undefined {
  const trimmed = name?.trim();
  if (!trimmed || /(https?:|www\.|\w\.(com|net|org|ru|io|xyz|info|biz|top)\b|[<>@/\\])/i.test(trimmed))
    return undefined;
  return trimmed.slice(0, 100);
}

export function preferencesUrl(
  deps: Pick<NewsletterDeps, 'publicBaseUrl' | 'linkSecret'>,
  email: string,
  list?: string,
) {
  const url = new URL(`${deps.publicBaseUrl}/newsletters/unsubscribe`);
  url.searchParams.set('e', email);
  if (list) url.searchParams.set('list', list);
  url.searchParams.set('sig', signLink(deps.linkSecret, 'unsubscribe', email));
  return url.toString();
}

export function dataUrl(
  deps: Pick<NewsletterDeps, 'publicBaseUrl' | 'linkSecret'>,
  email: string,
  expires: number,
) {
  const url = new URL(`${deps.publicBaseUrl}/newsletters/my-data`);
  url.searchParams.set('e', email);
  url.searchParams.set('exp', String(expires));
  url.searchParams.set('sig', signLink(deps.linkSecret, 'my-data', email, String(expires)));
  return url.toString();
}

async function recordConsent(
  deps: NewsletterDeps,
  email: string,
  lists: string[],
  action: 'opt_in_requested' | 'confirmed' | 'unsubscribed',
  context: ConsentContext,
) {
  const at = deps.clock.now();
  // Written on every sign-up: through the driver (see dropUndefined).
  const records = lists.map((list) => dropUndefined({ email, list, action, at, ...context }));
  const { collection } = newsletterModels(deps.db).Consent;
  // One list is the usual case, and the driver's insertMany goes through its bulk machinery.
  if (records.length === 1) await collection.insertOne(records[0] as never);
  else await collection.insertMany(records as never[]);
}

/**
 * A sign-up's writes go through the driver rather than as mongoose documents: on the embedded
 * database a sign-up is bound by CPU, and casting and validating a document cost about as much as
 * the insert. Every field is typed here and was validated at the edge; undefined ones are left out,
 * as mongoose leaves them out.
 */
function dropUndefined<T extends object>(doc: T): T {
  return Object.fromEntries(Object.entries(doc).filter(([, value]) => value !== undefined)) as T;
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
  const [requested] = await Promise.all([
    Promise.all(input.lists.map((list) => requestList(deps, list, input, name, now))),
    recordConsent(deps, input.email, input.lists, 'opt_in_requested', context),
  ]);
  const needConfirmation = input.lists.filter((_, i) => requested[i]);
  if (needConfirmation.length === 0 || suppressed) return;
  // The limit is per address and list: a reader who signs up for a second list a minute after the
  // first still gets that list's confirmation; a burst naming one list sends it once. Each list's
  // decision is the insert of its own token (see storeToken): for one list, that is the token mailed.
  const window = Math.floor(now.getTime() / CONFIRMATION_EMAIL_WINDOW_MS);
  const request = { by: randomUUID(), asked: needConfirmation };
  const perList = await Promise.all(
    needConfirmation.map((list) => storeToken(deps, input.email, [list], window, now, request)),
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
): Promise<{ token: string; created: boolean }> {
  const token = confirmationToken(deps, email, lists, window);
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

const listName = (deps: NewsletterDeps, slug: string) =>
  deps.lists.find((l) => l.slug === slug)?.name ?? slug;

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
  await recordConsent(deps, stored.email, confirmed, 'confirmed', context);
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

/** Every subscription of the address, lists no longer configured too: for data export and erasure (a scan). */
export async function subscriptionsOf(db: Connection, email: string) {
  return newsletterModels(db).Subscription.find({ email }).sort({ list: 1 }).lean<NewsletterSubscription[]>();
}

/** Everything we hold about a newsletter reader: what they subscribed to and every consent record. */
export async function exportReaderData(db: Connection, email: string) {
  const { Consent } = newsletterModels(db);
  const [subscriptions, consents, emails] = await Promise.all([
    subscriptionsOf(db, email),
    Consent.find({ email }).sort({ at: 1 }).select({ _id: 0 }).lean(),
    emailModels(db)
      .EmailJob.find({ 'to.email': email, template: /^newsletter-/ })
      .select({ template: 1, status: 1, createdAt: 1, _id: 0 })
      .lean(),
  ]);
  return {
    email,
    subscriptions: subscriptions.map(({ _id, ...rest }) => rest),
    consents,
    emails,
  };
}

/** Erases a newsletter reader: subscriptions, consent records, tokens, newsletter mail, and the address in temporary records. */
export async function deleteReaderData(db: Connection, email: string): Promise<void> {
  const { Subscription, Consent, Token } = newsletterModels(db);
  await Promise.all([
    Subscription.deleteMany({ email }),
    Consent.deleteMany({ email }),
    Token.deleteMany({ email }),
    emailModels(db).EmailJob.deleteMany({ 'to.email': email, template: /^newsletter-/ }),
    eraseAddressFromTemporaryRecords(db, email),
  ]);
}

/** A suppressed address (bounce, spam report) leaves the SendGrid lists; its consent history stays. */
export async function removeSuppressedFromLists(deps: NewsletterDeps, email: string): Promise<void> {
  const now = deps.clock.now();
  for (const subscription of await subscriptionsOf(deps.db, email)) {
    if (subscription.status === 'confirmed') {
      await enqueueMarketingSync(deps, { email, list: subscription.list, action: 'remove', at: now });
    }
  }
}
