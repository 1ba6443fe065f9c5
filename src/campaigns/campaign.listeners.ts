import type { DomainEvents } from '../shared/domain-events.js';
import { applyChargeback, applyLedgerEntry, type CampaignDeps, countNewMember } from './campaign.service.js';

/** Campaigns count what other capabilities report: new members joining, money recorded, chargebacks. */
export function subscribeCampaigns(events: DomainEvents, deps: CampaignDeps): void {
  events.on('member.joined', (joined) => countNewMember(deps, joined));
  events.on('ledger.recorded', (entry) => applyLedgerEntry(deps, entry));
  events.on('payment.charged_back', (chargeback) => applyChargeback(deps, chargeback));
}
