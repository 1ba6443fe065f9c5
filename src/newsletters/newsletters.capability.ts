import type { Capability, ProcessContext } from '../infra/capability.js';
import { staffAuthFrom } from '../staff/staff.capability.js';
import { loadLists } from './lists.js';
import { registerMarketingSyncModel } from './marketing-sync.model.js';
import { registerNewsletterModels } from './newsletter.model.js';
import { removeSuppressedFromLists } from './newsletter.service.js';
import { newsletterDocs, newsletterRoutes } from './newsletters.routes.js';

export function newsletterDepsFrom(
  ctx: Pick<ProcessContext, 'config' | 'db' | 'clock'> & Partial<ProcessContext>,
) {
  const { config } = ctx;
  return {
    db: ctx.db,
    clock: ctx.clock,
    events: ctx.events,
    lists: loadLists(config.newsletters.listsFile),
    publicBaseUrl: config.http.publicBaseUrl,
    linkSecret: config.session.secret,
    confirmationHours: config.newsletters.confirmationHours,
  };
}

/** Double opt-in sign-ups, preferences, one-click unsubscribe and SendGrid Marketing sync. */
export const newslettersCapability: Capability = {
  name: 'newsletters',
  models(db) {
    registerNewsletterModels(db);
    registerMarketingSyncModel(db);
  },
  listen(ctx) {
    const deps = newsletterDepsFrom(ctx);
    ctx.events.on('address.suppressed', ({ email }) => removeSuppressedFromLists(deps, email));
  },
  routes: (ctx) =>
    newsletterRoutes({
      ...newsletterDepsFrom(ctx),
      subscribeLimitPerIp: ctx.config.newsletters.signupsPerIp,
      signUpAnswerMs: ctx.config.fixedTime.newsletterSignUpMs,
      staffAuth: staffAuthFrom(ctx.config),
    }),
  docs: newsletterDocs,
};
