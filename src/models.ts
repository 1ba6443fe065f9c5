import type { Connection } from 'mongoose';
import { registerStripeEventModel } from '../webhooks/stripe-event.model.js';
import { registerMemberSessionModels } from './accounts/member-session.js';
import { registerSignInTokenModel } from './accounts/sign-in-token.model.js';
import { registerCampaignModels } from './campaigns/campaign.model.js';
import { registerEmailModels } from './email/email.model.js';
import { registerGiftModels } from './gifts/gift.model.js';
import { registerClaimModel } from './infra/claims.js';
import { registerDueModel } from './infra/due.js';
import { registerLeaseModel } from './infra/leases.js';
import { registerMigrationModel } from './infra/migrations.js';
import { registerTallyModel } from './infra/tally.js';
import { registerLedgerModels } from './ledger/ledger.model.js';
import { registerCustomerEmailModel } from './memberships/customer-email.js';
import { registerMembershipModels } from './memberships/membership.model.js';
import { registerStripeCatalogModels } from './memberships/stripe-catalog.js';
import { registerMarketingSyncModel } from './newsletters/marketing-sync.model.js';
import { registerNewsletterModels } from './newsletters/newsletter.model.js';
import { registerReportModels } from './reports/audit.model.js';
import { registerSponsorshipModels } from './sponsorship/sponsorship.model.js';
import { registerStaffModels } from './staff/staff.model.js';
import { registerTransparencyModels } from './transparency/log.model.js';

// Every capability's models, bound to one connection. ensureIndexes() builds their indexes at start.
export function registerModels(db: Connection): void {
  registerClaimModel(db);
  registerMigrationModel(db);
  registerTallyModel(db);
  registerLeaseModel(db);
  registerDueModel(db);
  registerEmailModels(db);
  registerLedgerModels(db);
  registerMembershipModels(db);
  registerStripeCatalogModels(db);
  registerCustomerEmailModel(db);
  registerStripeEventModel(db);
  registerSignInTokenModel(db);
  registerMemberSessionModels(db);
  registerStaffModels(db);
  registerCampaignModels(db);
  registerNewsletterModels(db);
  registerMarketingSyncModel(db);
  registerGiftModels(db);
  registerReportModels(db);
  registerTransparencyModels(db);
  registerSponsorshipModels(db);
}
