import type { Config } from '../config/config.js';
import type { Capability } from '../infra/capability.js';
import { registerReportModels } from './audit.model.js';
import { registerStaffModels } from './staff.model.js';
import { staffDocs, staffRoutes } from './staff.routes.js';
import type { StaffAuthConfig } from './staff-auth.service.js';

/** How every staff-only route checks a staff token: one definition for the whole app. */
export function staffAuthFrom(config: Config): StaffAuthConfig {
  return {
    keys: config.staffAuth.keys,
    issuer: config.http.publicBaseUrl,
    accessTokenMinutes: config.staffAuth.accessTokenMinutes,
    refreshTokenDays: config.staffAuth.refreshTokenDays,
  };
}

/** Staff accounts, their tokens and roles, and the audit trail of what staff pulled. */
export const staffCapability: Capability = {
  name: 'staff',
  models(db) {
    registerStaffModels(db);
    registerReportModels(db);
  },
  routes: (ctx) => staffRoutes({ db: ctx.db, clock: ctx.clock, auth: staffAuthFrom(ctx.config) }),
  docs: staffDocs,
};
