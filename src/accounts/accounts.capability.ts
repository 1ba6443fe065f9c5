import type { Capability } from '../infra/capability.js';
import { accountDocs, accountRoutes } from './account.routes.js';
import { registerMemberSessionModels } from './member-session.js';
import { memberSiteDocs, memberSiteRoutes } from './member-site.routes.js';
import { registerSignInTokenModel } from './sign-in-token.model.js';

/** Member sign-in by emailed link, and the account pages a member manages billing from. */
export const accountsCapability: Capability = {
  name: 'accounts',
  models(db) {
    registerSignInTokenModel(db);
    registerMemberSessionModels(db);
  },
  routes: ({ config, ...ctx }) => {
    const sessions = { days: config.session.days, idleDays: config.memberSessionIdleDays };
    const router = accountRoutes({
      db: ctx.db,
      clock: ctx.clock,
      stripe: ctx.stripe,
      publicBaseUrl: config.http.publicBaseUrl,
      linkSecret: config.session.secret,
      sessions,
      secureCookies: config.env === 'production',
      signInAnswerMs: config.fixedTime.signInMs,
    });
    router.use(
      memberSiteRoutes({
        db: ctx.db,
        clock: ctx.clock,
        sessions,
        memberSite: config.memberSite,
        publicBaseUrl: config.http.publicBaseUrl,
      }),
    );
    return router;
  },
  docs(docs) {
    accountDocs(docs);
    memberSiteDocs(docs);
  },
};
