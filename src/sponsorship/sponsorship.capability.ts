import type { Capability } from '../infra/capability.js';
import { loadPlans } from '../memberships/plans.js';
import { staffAuthFrom } from '../staff/staff.capability.js';
import { registerSponsorshipModels } from './sponsorship.model.js';
import { sponsorshipDocs, sponsorshipRoutes } from './sponsorship.routes.js';
import { applySponsorshipChargeback, applySponsorshipRefund } from './sponsorship.service.js';
import { sponsorshipDepsFrom } from './sponsorship-deps.js';

/** Readers who cannot pay ask for a membership that donors' pool pays for. */
export const sponsorshipCapability: Capability = {
  name: 'sponsorship',
  models: registerSponsorshipModels,
  listen(ctx) {
    ctx.events.on('ledger.recorded', (entry) => applySponsorshipRefund(ctx, entry));
    ctx.events.on('payment.charged_back', (chargeback) => applySponsorshipChargeback(ctx, chargeback));
  },
  routes: (ctx) =>
    sponsorshipRoutes({
      ...sponsorshipDepsFrom(ctx.config, ctx),
      stripe: ctx.stripe,
      staffAuth: staffAuthFrom(ctx.config),
      brandName: ctx.config.brand.name,
      requestsPerIp: 10,
      checkoutLimits: ctx.config.stripe.checkoutLimits,
      minimumAmounts: Object.fromEntries(
        Object.entries(loadPlans(ctx.config.membershipPlansFile).oneTime).map(([c, r]) => [c, r?.min]),
      ),
      automaticTax: ctx.config.stripe.checkout.automaticTax,
      requestAnswerMs: ctx.config.fixedTime.sponsorshipRequestMs,
    }),
  docs: sponsorshipDocs,
};
