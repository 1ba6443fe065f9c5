import type { Capability } from '../infra/capability.js';
import { registerAttributionModels } from './attribution.model.js';
import { beaconDocs, beaconRoutes } from './beacon.routes.js';
import { recordJoin, recordMoney } from './figures.service.js';
import { countFunnelStep } from './funnel.service.js';

/** Where members come from: the funnel's counts and the per-day figures the attribution report reads. */
export const attributionCapability: Capability = {
  name: 'attribution',
  models: registerAttributionModels,
  listen(ctx) {
    const deps = { db: ctx.db, timeZone: ctx.config.timeZone };
    ctx.events.on('checkout.started', (started) =>
      countFunnelStep(ctx.db, ctx.config.timeZone, {
        stage: 'started',
        ...started,
        record: started.reference,
      }),
    );
    ctx.events.on('checkout.paid', (paid) =>
      countFunnelStep(ctx.db, ctx.config.timeZone, { stage: 'paid', ...paid, record: paid.sessionId }),
    );
    ctx.events.on('member.joined', (joined) => recordJoin(deps, joined));
    ctx.events.on('ledger.recorded', (entry) => recordMoney(deps, entry));
  },
  routes: (ctx) =>
    beaconRoutes({
      db: ctx.db,
      clock: ctx.clock,
      timeZone: ctx.config.timeZone,
      perIpPerMinute: ctx.config.beaconsPerIpPerMinute,
    }),
  docs: beaconDocs,
};
