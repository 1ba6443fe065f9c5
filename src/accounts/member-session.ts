import jwt from 'jsonwebtoken';

// The member's signed-in state: a short JWT in an HttpOnly cookie, HS256 only (the algorithm is
// pinned on verify, so "alg: none" or a swapped algorithm is rejected), with issuer and audience.

export const SESSION_COOKIE = 'md_member';
const AUDIENCE = 'member';

export interface SessionKeys {
  secret: string;
  issuer: string;
  days: number;
}

export function issueMemberSession(keys: SessionKeys, memberId: string, now: Date): string {
  return jwt.sign({ iat: Math.floor(now.getTime() / 1000) }, keys.secret, {
    algorithm: 'HS256',
    subject: memberId,
    audience: AUDIENCE,
    issuer: keys.issuer,
    expiresIn: `${keys.days}d`,
  });
}

/** The member id of a valid session, or undefined for anything else. */
export function readMemberSession(
  keys: SessionKeys,
  token: string | undefined,
  now: Date,
): string | undefined {
  if (!token) return undefined;
  try {
    const payload = jwt.verify(token, keys.secret, {
      algorithms: ['HS256'],
      audience: AUDIENCE,
      issuer: keys.issuer,
      clockTimestamp: Math.floor(now.getTime() / 1000),
    });
    return typeof payload === 'object' && typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}
