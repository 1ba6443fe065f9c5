import type { Capability } from '../infra/capability.js';
import { registerLedgerModels } from './ledger.model.js';
import { registerMemberEntriesModel } from './member-entries.js';
import { settleUnsettledEntries, subscribeSettlement } from './settlement.service.js';

const MINUTE = 60_000;

/** Money as Stripe moved it; entries are settled with Stripe's fees when Stripe knows them. */
export const ledgerCapability: Capability = {
  name: 'ledger',
  models(db) {
    registerLedgerModels(db);
    registerMemberEntriesModel(db);
  },
  listen(ctx) {
    const { stripe } = ctx;
    if (stripe) subscribeSettlement(ctx.events, { ...ctx, stripe });
  },
  tasks(ctx) {
    const { stripe } = ctx;
    if (!stripe) return [];
    return [
      { name: 'settlement', everyMs: 10 * MINUTE, run: () => settleUnsettledEntries({ ...ctx, stripe }) },
    ];
  },
};
