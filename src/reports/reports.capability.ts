import type { Capability } from '../infra/capability.js';
import { staffAuthFrom } from '../staff/staff.capability.js';
import { reportDocs } from './reports.docs.js';
import { reportRoutes } from './reports.routes.js';

/** Finance reports: summary, revenue, growth, reconciliation, supporters; every pull audited. */
export const reportsCapability: Capability = {
  name: 'reports',
  routes: (ctx) =>
    reportRoutes({ ...ctx, staffAuth: staffAuthFrom(ctx.config), timeZone: ctx.config.timeZone }),
  docs: reportDocs,
};
