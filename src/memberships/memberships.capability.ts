import type { Capability, ProcessContext } from '../infra/capability.js';
import { registerCustomerEmailModel } from './customer-email.js';
import { registerDisputeModels } from './dispute.events.js';
import { registerMembershipModels } from './membership.model.js';
import { type MembershipRoutesDeps, membershipDocs, membershipRoutes } from './memberships.routes.js';
import { loadPlans } from './plans.js';
import { registerStripeCatalogModels } from './stripe-catalog.js';
import { auditSupporters } from './supporters.js';

/** What applying a Stripe event to members needs (the webhook and the worker alike). */
export function membershipDepsFrom(ctx: ProcessContext) {
  const { config } = ctx;
  return {
    db: ctx.db,
    clock: ctx.clock,
    logger: ctx.logger,
    events: ctx.events,
    timeZone: config.timeZone,
    publicBaseUrl: config.http.publicBaseUrl,
    adoptUntagged: config.stripe.adoptUntagged,
    linkSecret: config.session.secret,
  };
}

/** Members, their subscriptions and checkout: the only writer of members. */
export const membershipsCapability: Capability<
  ProcessContext & { localCheckout?: MembershipRoutesDeps['localCheckout'] }
> = {
  name: 'memberships',
  models(db) {
    registerMembershipModels(db);
    registerStripeCatalogModels(db);
    registerCustomerEmailModel(db);
    registerDisputeModels(db);
  },
  routes: (ctx) =>
    membershipRoutes({
      db: ctx.db,
      stripe: ctx.stripe,
      localCheckout: ctx.localCheckout,
      plans: loadPlans(ctx.config.membershipPlansFile),
      publicBaseUrl: ctx.config.http.publicBaseUrl,
      checkout: ctx.config.stripe.checkout,
      logger: ctx.logger,
      clock: ctx.clock,
      checkoutLimits: ctx.config.stripe.checkoutLimits,
      memberSiteOrigins: ctx.config.memberSite.origins,
      events: ctx.events,
    }),
  // Once a day one process counts active members the slow way and repairs the total if it differs.
  tasks: (ctx) => [
    {
      name: 'supporters-audit',
      everyMs: 24 * 60 * 60_000,
      run: () => auditSupporters(ctx.db, ctx.clock.now(), ctx.logger),
    },
  ],
  docs: membershipDocs,
};
