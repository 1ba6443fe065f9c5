import { createHash, randomBytes } from 'node:crypto';
import { type Connection, Schema } from 'mongoose';
import type { Clock } from '../infra/clock.js';
import { isDuplicateKey } from '../infra/db.js';
import { findMemberByEmail } from '../memberships/member-keys.js';

// The member's signed-in state, kept on the server so it can be ended (docs/security.md, "Member
// sessions"). The cookie holds a random id; the database holds only its SHA-256, the member and
// the member's session epoch at sign-in. A request reads the session and the member's current
// epoch, both by `_id` (FerretDB answers nothing else from an index). Ending one session deletes
// it; ending them all ("sign out everywhere", erasure) gives the member a new epoch, which no
// older session carries, so nothing has to find a member's sessions.

export const SESSION_COOKIE = 'md_member';

export interface SessionSettings {
  /** A session ends this many days after sign-in, however much it is used. */
  days: number;
  /** A session ends after this many days without a request. */
  idleDays: number;
}

export interface SessionDeps {
  db: Connection;
  clock: Clock;
  sessions: SessionSettings;
}

interface MemberSession {
  _id: string; // sha256(cookie id), hex
  memberId: string;
  epoch: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** The sooner of the lifetime's end and the idle limit from lastSeenAt; the sweep deletes by it. */
  expiresAt: Date;
}

interface SessionEpoch {
  _id: string; // member id
  epoch: string;
  changedAt: Date;
}

const memberSessionSchema = new Schema<MemberSession>(
  {
    _id: String,
    memberId: { type: String, required: true },
    epoch: { type: String, required: true },
    createdAt: { type: Date, required: true },
    lastSeenAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true, index: true },
  },
  { versionKey: false },
);

const sessionEpochSchema = new Schema<SessionEpoch>(
  { _id: String, epoch: { type: String, required: true }, changedAt: { type: Date, required: true } },
  { versionKey: false },
);

export function registerMemberSessionModels(db: Connection): void {
  if (!db.models.MemberSession) db.model('MemberSession', memberSessionSchema, 'member_sessions');
  if (!db.models.MemberSessionEpoch)
    db.model('MemberSessionEpoch', sessionEpochSchema, 'member_session_epochs');
}

export const memberSessionModels = (db: Connection) => ({
  MemberSession: db.model<MemberSession>('MemberSession'),
  MemberSessionEpoch: db.model<SessionEpoch>('MemberSessionEpoch'),
});

const DAY = 86_400_000;
/** lastSeenAt is written at most this often, not on every request: the idle limit is in days. */
const TOUCH_MS = 60 * 60_000;
const COOKIE_ID = /^[A-Za-z0-9_-]{43}$/;
/** A member who never ended their sessions has this epoch (no document). */
const FIRST_EPOCH = 'first';

const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');

async function epochOf(db: Connection, memberId: string): Promise<string> {
  const stored = await memberSessionModels(db).MemberSessionEpoch.findById(memberId).lean();
  return stored?.epoch ?? FIRST_EPOCH;
}

const expiryOf = (settings: SessionSettings, createdAt: Date, lastSeenAt: Date) =>
  new Date(
    Math.min(createdAt.getTime() + settings.days * DAY, lastSeenAt.getTime() + settings.idleDays * DAY),
  );

/**
 * Starts a session for the member and returns the cookie's value. The session the browser had
 * (`replacing`, its cookie) ends: a sign-in always gets a new id, so an id planted before it is
 * worth nothing after.
 */
export async function startMemberSession(
  deps: SessionDeps,
  memberId: string,
  replacing?: string,
): Promise<string> {
  if (replacing) await endMemberSession(deps.db, replacing);
  const id = randomBytes(32).toString('base64url');
  const now = deps.clock.now();
  await memberSessionModels(deps.db).MemberSession.create({
    _id: hashOf(id),
    memberId,
    epoch: await epochOf(deps.db, memberId),
    createdAt: now,
    lastSeenAt: now,
    expiresAt: expiryOf(deps.sessions, now, now),
  });
  return id;
}

/** The member id of a live session, or undefined: unknown, ended, past its lifetime or idle too long. */
export async function readMemberSession(deps: SessionDeps, cookie: string | undefined) {
  if (!cookie || !COOKIE_ID.test(cookie)) return undefined;
  const { MemberSession } = memberSessionModels(deps.db);
  const session = await MemberSession.findById(hashOf(cookie)).lean();
  const now = deps.clock.now();
  if (!session || expiryOf(deps.sessions, session.createdAt, session.lastSeenAt) <= now) return undefined;
  if (session.epoch !== (await epochOf(deps.db, session.memberId))) return undefined;
  if (now.getTime() - session.lastSeenAt.getTime() >= TOUCH_MS) {
    // An update by _id never brings back a session deleted meanwhile (sign-out wins).
    await MemberSession.updateOne(
      { _id: session._id },
      { $set: { lastSeenAt: now, expiresAt: expiryOf(deps.sessions, session.createdAt, now) } },
    );
  }
  return session.memberId;
}

/** Ends the session this cookie names (sign-out); nothing if there is none. */
export async function endMemberSession(db: Connection, cookie: string | undefined): Promise<void> {
  if (!cookie || !COOKIE_ID.test(cookie)) return;
  await memberSessionModels(db).MemberSession.deleteOne({ _id: hashOf(cookie) });
}

/**
 * Ends every session of the member, in every browser (sign out everywhere, erasure, and what a
 * future staff block of a member must call): a new epoch, so no session started before matches.
 */
export async function endAllMemberSessions(db: Connection, memberId: string, now: Date): Promise<void> {
  const { MemberSessionEpoch } = memberSessionModels(db);
  const change = { $set: { epoch: randomBytes(16).toString('base64url'), changedAt: now } };
  try {
    await MemberSessionEpoch.updateOne({ _id: memberId }, change, { upsert: true });
  } catch (error) {
    // Two at once for a member with no epoch yet: both inserted; the loser sets it instead.
    if (!isDuplicateKey(error)) throw error;
    await MemberSessionEpoch.updateOne({ _id: memberId }, change);
  }
}

/** Erasure of an address: the member's sessions end in every browser. */
export async function endSessionsOfAddress(db: Connection, email: string, now: Date): Promise<void> {
  const member = await findMemberByEmail(db, email);
  if (member) await endAllMemberSessions(db, String(member._id), now);
}
