import type { Capability } from '../infra/capability.js';
import { accountDocs, accountRoutes } from './account.routes.js';
import { registerSignInTokenModel } from './sign-in-token.model.js';

/** Member sign-in by emailed link, and the account pages a member manages billing from. */
export const accountsCapability: Capability = {
  name: 'accounts',
  models: registerSignInTokenModel,
  routes: ({ config, ...ctx }) =>
    accountRoutes({
      db: ctx.db,
      clock: ctx.clock,
      stripe: ctx.stripe,
      publicBaseUrl: config.http.publicBaseUrl,
      session: {
        secret: config.session.secret,
        issuer: config.http.publicBaseUrl,
        days: config.session.days,
      },
      secureCookies: config.env === 'production',
    }),
  docs: accountDocs,
};
