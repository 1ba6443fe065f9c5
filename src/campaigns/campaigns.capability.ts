import { Router } from 'express';
import type { Capability, ProcessContext } from '../infra/capability.js';
import { staffAuthFrom } from '../staff/staff.capability.js';
import { subscribeCampaigns } from './campaign.listeners.js';
import { registerCampaignModels } from './campaign.model.js';
import { campaignDocs, campaignRoutes } from './campaigns.routes.js';
import { signDueCheckpoints } from './drive-log/checkpoint.service.js';
import { registerCosignatureModel, witnessOf } from './drive-log/cosignature.js';
import { registerTransparencyModels } from './drive-log/log.model.js';
import { useLeafSigner } from './drive-log/promises.js';
import { createSigner } from './drive-log/signing.js';
import { transparencyDocs, transparencyRoutes } from './drive-log/transparency.routes.js';
import { submitToWitnesses } from './drive-log/witnesses.service.js';
import type { ProgressCache } from './progress.service.js';

const MINUTE = 60_000;

/** Leaves this process appends get their signed promise, timed by its clock (drive-log/promises.ts). */
function promiseLeaves(ctx: ProcessContext): void {
  useLeafSigner(ctx.db, {
    signer: createSigner(ctx.config.transparency.keys),
    publicBaseUrl: ctx.config.http.publicBaseUrl,
    clock: ctx.clock,
  });
}

/** Drives, their counts and the progress widget, and the public log that makes the count verifiable. */
export const campaignsCapability: Capability<ProcessContext & { progressCache: ProgressCache }> = {
  name: 'campaigns',
  models(db) {
    registerCampaignModels(db);
    registerTransparencyModels(db);
    registerCosignatureModel(db);
  },
  listen: (ctx) => {
    promiseLeaves(ctx);
    subscribeCampaigns(ctx.events, { db: ctx.db, clock: ctx.clock, logger: ctx.logger, events: ctx.events });
  },
  tasks: (ctx) => {
    promiseLeaves(ctx);
    const witnesses = ctx.config.transparency.witnesses.map(witnessOf); // a wrong vkey stops the start
    return [
      {
        name: 'drive-checkpoints',
        everyMs: MINUTE,
        run: () =>
          signDueCheckpoints({
            ...ctx,
            signer: createSigner(ctx.config.transparency.keys),
            checkpointMs: ctx.config.transparency.checkpointMs,
            afterEndMs: ctx.config.transparency.afterEndMs,
            publicBaseUrl: ctx.config.http.publicBaseUrl,
          }),
      },
      {
        // After the checkpoints in each round of the task loop, so a new one goes out at once.
        name: 'drive-witnesses',
        everyMs: MINUTE,
        run: () => submitToWitnesses({ ...ctx, witnesses }),
      },
    ];
  },
  routes(ctx) {
    promiseLeaves(ctx);
    const router = Router();
    router.use(
      campaignRoutes({
        db: ctx.db,
        clock: ctx.clock,
        staffAuth: staffAuthFrom(ctx.config),
        progressCache: ctx.progressCache,
        memberSiteOrigins: ctx.config.memberSite.origins,
      }),
    );
    router.use(
      transparencyRoutes({
        db: ctx.db,
        signer: createSigner(ctx.config.transparency.keys),
        brandName: ctx.config.brand.name,
        publicBaseUrl: ctx.config.http.publicBaseUrl,
        witnesses: ctx.config.transparency.witnesses.map(witnessOf),
      }),
    );
    return router;
  },
  docs(docs) {
    campaignDocs(docs);
    transparencyDocs(docs);
  },
};
