import { createHash, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Connection } from 'mongoose';
import { AppError } from '../http/errors.js';
import { claimOnce } from '../infra/claims.js';
import type { Clock } from '../infra/clock.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { STAFF_ROLES, type StaffRole, type StaffUser, staffModels } from './staff.model.js';

export interface StaffAuthConfig {
  keys: { kid: string; secret: string }[];
  issuer: string;
  accessTokenMinutes: number;
  refreshTokenDays: number;
}

export interface StaffAuthDeps {
  db: Connection;
  clock: Clock;
  auth: StaffAuthConfig;
}

export interface StaffIdentity {
  id: string;
  email: string;
  role: StaffRole;
}

export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
}

const AUDIENCE = 'staff';
/** Names what the token is for, so no other JWT signed with our keys can pass as an access token. */
export const ACCESS_TOKEN_USE = 'staff-access';
/** How far a token's `iat` may be ahead of our clock (clock skew between processes). */
const SKEW_SECONDS = 60;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
// Compared against when the email is unknown, so a wrong email takes as long as a wrong password.
const DECOY_HASH = hashPassword(randomBytes(16).toString('hex'));

export async function createStaffUser(
  db: Connection,
  input: { email: string; name: string; role: StaffRole; password: string },
): Promise<StaffUser> {
  if (input.password.length < 12)
    throw new AppError('validation_failed', 'Passwords need at least 12 characters.');
  const user = await staffModels(db).StaffUser.create({
    email: input.email.trim().toLowerCase(),
    name: input.name,
    role: input.role,
    passwordHash: await hashPassword(input.password),
  });
  return user.toObject();
}

async function issueTokens(deps: StaffAuthDeps, user: StaffUser): Promise<TokenPair> {
  const [current] = deps.auth.keys;
  const now = deps.clock.now();
  const accessToken = jwt.sign(
    { role: user.role, email: user.email, use: ACCESS_TOKEN_USE, iat: Math.floor(now.getTime() / 1000) },
    current!.secret,
    {
      algorithm: 'HS256',
      keyid: current!.kid,
      subject: String(user._id),
      audience: AUDIENCE,
      issuer: deps.auth.issuer,
      expiresIn: deps.auth.accessTokenMinutes * 60,
    },
  );
  const refreshToken = randomBytes(32).toString('base64url');
  await staffModels(deps.db).StaffRefreshToken.create({
    _id: sha256(refreshToken),
    userId: user._id,
    expiresAt: new Date(now.getTime() + deps.auth.refreshTokenDays * 86_400_000),
  });
  return { accessToken, tokenType: 'Bearer', expiresIn: deps.auth.accessTokenMinutes * 60, refreshToken };
}

export async function signInStaff(deps: StaffAuthDeps, email: string, password: string): Promise<TokenPair> {
  const user = await staffModels(deps.db)
    .StaffUser.findOne({ email: email.trim().toLowerCase() })
    .lean<StaffUser>();
  const valid = await verifyPassword(password, user?.passwordHash ?? (await DECOY_HASH));
  if (!user || !valid || user.disabled) throw new AppError('unauthorized', 'Wrong email or password.');
  return issueTokens(deps, user);
}

/** Spends a refresh token (once: a copy replayed later is refused) and issues a new pair. */
export async function refreshStaffTokens(deps: StaffAuthDeps, refreshToken: string): Promise<TokenPair> {
  const { StaffRefreshToken, StaffUser } = staffModels(deps.db);
  const hash = sha256(refreshToken);
  const stored = await StaffRefreshToken.findById(hash).lean();
  const now = deps.clock.now();
  if (!stored || stored.expiresAt <= now || !(await claimOnce(deps.db, `staff-refresh:${hash}`, now))) {
    throw new AppError('unauthorized', 'Sign in again.');
  }
  await StaffRefreshToken.deleteOne({ _id: hash });
  const user = await StaffUser.findById(stored.userId).lean<StaffUser>();
  if (!user || user.disabled) throw new AppError('unauthorized', 'Sign in again.');
  return issueTokens(deps, user);
}

export async function revokeRefreshToken(db: Connection, refreshToken: string): Promise<void> {
  await staffModels(db).StaffRefreshToken.deleteOne({ _id: sha256(refreshToken) });
}

/**
 * Verifies an access token: HS256 only, a known key id, our issuer and the staff audience, issued
 * for access (not some other token signed with our keys), with `iat` and `exp` both present and a
 * lifetime no longer than we issue. A token without `exp` would otherwise be valid forever.
 */
export function verifyStaffToken(auth: StaffAuthConfig, token: string, now: Date): StaffIdentity | undefined {
  const decoded = jwt.decode(token, { complete: true });
  if (decoded?.header.alg !== 'HS256' || typeof decoded.header.kid !== 'string') return undefined;
  const key = auth.keys.find((k) => k.kid === decoded.header.kid);
  if (!key) return undefined;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const lifetime = auth.accessTokenMinutes * 60;
  try {
    const payload = jwt.verify(token, key.secret, {
      algorithms: ['HS256'],
      audience: AUDIENCE,
      issuer: auth.issuer,
      clockTimestamp: nowSeconds,
    });
    if (typeof payload !== 'object' || typeof payload.sub !== 'string') return undefined;
    const { iat, exp, use, role } = payload;
    if (typeof iat !== 'number' || typeof exp !== 'number') return undefined;
    if (exp - iat > lifetime || iat > nowSeconds + SKEW_SECONDS || nowSeconds - iat > lifetime)
      return undefined;
    if (use !== ACCESS_TOKEN_USE || !STAFF_ROLES.includes(role)) return undefined;
    return { id: payload.sub, email: String(payload.email), role };
  } catch {
    return undefined;
  }
}
