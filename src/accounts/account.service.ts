import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import type Stripe from 'stripe';
import { listAtAddressOn } from '../email/address-records.js';
import { enqueueEmail } from '../email/outbox.service.js';
import { claimOnce } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { findMemberByEmail, findMemberById, subscriptionsOf } from '../memberships/member-keys.js';
import { portalConfigurationId } from '../memberships/stripe-catalog.js';
import { signInTokenModel } from './sign-in-token.model.js';

export const SIGN_IN_LINK_MINUTES = 15;
/** At most one sign-in email per address per this many minutes, however often it is asked for. */
export const SIGN_IN_EMAIL_WINDOW_MINUTES = 2;

export interface AccountDeps {
  db: Connection;
  clock: Clock;
  publicBaseUrl: string;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Emails a single-use sign-in link if the address belongs to a member. The caller answers the same
 * either way, so the endpoint reveals nothing about who is a member.
 */
export async function requestSignInLink(deps: AccountDeps, email: string): Promise<void> {
  const member = await findMemberByEmail(deps.db, email);
  if (!member) return;
  const now = deps.clock.now();
  const window = Math.floor(now.getTime() / (SIGN_IN_EMAIL_WINDOW_MINUTES * 60_000));
  // The claim holds the address: listed first, for erasure (email/address-records.ts).
  await listAtAddressOn(deps.db, email, now, [{ kind: 'claim', ref: `sign-in-email:${window}` }]);
  if (!(await claimOnce(deps.db, `sign-in-email:${email}:${window}`, now))) return;

  const token = randomBytes(32).toString('base64url');
  await signInTokenModel(deps.db).create({
    _id: hashToken(token),
    memberId: member._id,
    expiresAt: new Date(now.getTime() + SIGN_IN_LINK_MINUTES * 60_000),
    createdAt: now,
  });
  await enqueueEmail(deps.db, deps.clock, {
    template: 'account-sign-in',
    to: { email: member.email, name: member.name },
    locale: member.locale,
    data: {
      name: member.name,
      signInUrl: `${deps.publicBaseUrl}/account/sign-in/verify?token=${token}`,
      expiresInMinutes: SIGN_IN_LINK_MINUTES,
    },
    idempotencyKey: `sign-in:${hashToken(token)}`,
  });
}

/** Spends a sign-in token: the member id once, then never again. */
export async function redeemSignInToken(deps: AccountDeps, token: string): Promise<string | undefined> {
  const hash = hashToken(token);
  const stored = await signInTokenModel(deps.db).findById(hash).lean();
  const now = deps.clock.now();
  if (!stored || stored.expiresAt <= now) return undefined;
  if (!(await claimOnce(deps.db, `sign-in-used:${hash}`, now))) return undefined;
  await signInTokenModel(deps.db).deleteOne({ _id: hash });
  return String(stored.memberId);
}

export async function accountOverview(db: Connection, memberId: string) {
  const member = await findMemberById(db, memberId);
  if (!member) return undefined;
  const [subscription] = (await subscriptionsOf(db, member._id)).sort(
    (a, b) => (b.lastEventCreated ?? 0) - (a.lastEventCreated ?? 0),
  );
  return { member, subscription };
}

/** A Stripe Customer Portal session where the member changes their card or cancels. */
export async function billingPortalUrl(
  deps: AccountDeps & { stripe: Stripe },
  memberId: string,
): Promise<string | undefined> {
  const member = await findMemberById(deps.db, memberId);
  if (!member?.stripeCustomerId) return undefined;
  // Setup's configuration offers switching tiers and intervals; without it, the account's default.
  const configuration = await portalConfigurationId(deps.db);
  const session = await deps.stripe.billingPortal.sessions.create({
    customer: member.stripeCustomerId,
    return_url: `${deps.publicBaseUrl}/account`,
    ...(configuration ? { configuration } : {}),
  });
  return session.url;
}
