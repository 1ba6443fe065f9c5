import type { DomainEvents } from '../shared/domain-events.js';
import { applyLedgerEntry, type CampaignDeps, countNewMember } from './campaign.service.js';

/** Campaigns count what other capabilities report: new members joining, money recorded. */
export function subscribeCampaigns(events: DomainEvents, deps: CampaignDeps): void {
  events.on('member.joined', (joined) => countNewMember(deps, joined));
  events.on('ledger.recorded', (entry) => applyLedgerEntry(deps, entry));
}
