import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Connection } from 'mongoose';
import { findMemberById, payingSubscriptionOf } from '../memberships/member-keys.js';

// What the newsroom's own site may learn about the reader in front of it: member or not, and the
// plan. Nothing else: no email, no name, no member id, so the answer cannot follow a reader from
// page to page or site to site. The identity is a JWT (EdDSA, Ed25519) that lives minutes, signed
// with the configured keys, whose public halves are the JWKS (ADR 0016).

export interface MemberSiteKey {
  kid: string;
  seed: Buffer;
}

export interface MemberSiteSettings {
  /** The origins that may ask (MEMBER_SITE_ORIGINS). */
  origins: string[];
  keys: MemberSiteKey[];
  tokenMinutes: number;
}

export interface MemberAnswer {
  member: boolean;
  /** The plan of the paying subscription, `gift` for a gift membership, or null. */
  plan: string | null;
}

/** The member statuses a site thanks: paying, or a failed payment Stripe is still retrying. */
const MEMBER_STATUSES = new Set(['active', 'past_due']);

const NOT_A_MEMBER: MemberAnswer = { member: false, plan: null };

/** Whether the signed-in member (if any) is a member now, and on which plan; two or three reads by `_id`. */
export async function memberAnswerOf(db: Connection, memberId: string | undefined): Promise<MemberAnswer> {
  if (!memberId) return NOT_A_MEMBER;
  const member = await findMemberById(db, memberId);
  if (!member || !MEMBER_STATUSES.has(member.status)) return NOT_A_MEMBER;
  const paying = await payingSubscriptionOf(db, member._id);
  return { member: true, plan: paying?.plan ?? (member.source === 'gift' ? 'gift' : null) };
}

// A PKCS#8 wrapper for a raw Ed25519 seed (RFC 8410): the fixed prefix, then the 32 bytes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface MemberSiteSigner {
  /** The public keys, as a JWK Set. */
  jwks: { keys: { kty: string; crv: string; x: string; kid: string; alg: 'EdDSA'; use: 'sig' }[] };
  /** A JWT of the answer for `audience` (the asking origin), expiring `minutes` after `now`. */
  sign(answer: MemberAnswer, audience: string, now: Date): Promise<{ token: string; expiresAt: Date }>;
}

export function createMemberSiteSigner(settings: MemberSiteSettings, issuer: string): MemberSiteSigner {
  const pairs = settings.keys.map(({ kid, seed }) => {
    if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
    const key: KeyObject = createPrivateKey({
      key: Buffer.concat([PKCS8_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    return { kid, key, x: String(jwk.x) };
  });
  const first = pairs[0];
  if (!first) throw new Error('no member site signing key');
  return {
    jwks: {
      keys: pairs.map(({ kid, x }) => ({ kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' })),
    },
    async sign(answer, audience, now) {
      const issuedAt = Math.floor(now.getTime() / 1000);
      const expires = issuedAt + settings.tokenMinutes * 60;
      const token = await new SignJWT({ member: answer.member, plan: answer.plan })
        .setProtectedHeader({ alg: 'EdDSA', kid: first.kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt(issuedAt)
        .setExpirationTime(expires)
        .sign(first.key);
      return { token, expiresAt: new Date(expires * 1000) };
    },
  };
}
