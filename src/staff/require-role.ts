import type { RequestHandler } from 'express';
import { AppError } from '../http/errors.js';
import type { Clock } from '../infra/clock.js';
import type { StaffRole } from './staff.model.js';
import { type StaffAuthConfig, type StaffIdentity, verifyStaffToken } from './staff-auth.service.js';

declare module 'express-serve-static-core' {
  interface Request {
    staff?: StaffIdentity;
  }
}

/** Lets through staff whose access token is valid and whose role is one of `roles`. */
export function requireRole(
  deps: { auth: StaffAuthConfig; clock: Clock },
  ...roles: StaffRole[]
): RequestHandler {
  const handler: RequestHandler = (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    // The scheme's name is case-insensitive (RFC 9110 11.1): `bearer …` is the same credential.
    const token = /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
    const staff = token ? verifyStaffToken(deps.auth, token, deps.clock.now()) : undefined;
    if (!staff) return next(new AppError('unauthorized'));
    if (!roles.includes(staff.role)) return next(new AppError('forbidden'));
    req.staff = staff;
    next();
  };
  // Readable from the router, so tests list every staff route and its roles without a copy.
  return Object.assign(handler, { staffRoles: roles });
}
