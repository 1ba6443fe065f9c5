import { dayFigures } from '../campaigns/day-figures.js';
import { overviewCampaigns } from '../reports/drive-overview.js';
import { calendarKeys } from '../shared/time.js';
import { type EnqueueDeps, enqueueMessage } from './deliveries.service.js';
import type { DailyTotal } from './slack.js';
import { webhookModels } from './webhook.model.js';
import { DAILY_TOTAL } from './webhook-events.js';

// The Slack preset's daily total: a periodic task of the one job runner (hourly, see
// integrations.capability.ts) that, once a campaign's day has ended in its time zone, queues that
// day's total for every Slack endpoint that chose it. The message's key is the campaign and the
// day, so the hourly runs after the first find their jobs already there: one post per day.

const DAY_MS = 86_400_000;

const dayBefore = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);

/** Queues yesterday's total of each campaign whose window covered it; returns how many jobs are new. */
export async function enqueueDailyTotals(deps: EnqueueDeps): Promise<number> {
  // Most hours of most newsrooms: nobody chose it, and one small scan says so.
  if (!(await webhookModels(deps.db).Endpoint.exists({ enabled: true, events: DAILY_TOTAL }))) return 0;
  const now = deps.clock.now();
  const campaigns = new Map(
    [
      ...(await overviewCampaigns(deps.db, new Date(now.getTime() - DAY_MS))),
      ...(await overviewCampaigns(deps.db, now)),
    ].map((c) => [String(c._id), c]),
  );
  let queued = 0;
  for (const campaign of campaigns.values()) {
    const zone = campaign.timeZone;
    const day = dayBefore(calendarKeys(now, zone).day);
    const first = calendarKeys(campaign.startsAt, zone).day;
    const last = calendarKeys(new Date(campaign.endsAt.getTime() - 1), zone).day;
    if (day < first || day > last) continue;
    // The campaign's maintained per-day tallies: primary-key probes, however many members.
    const { joined, count } = await dayFigures(deps.db, campaign, day, now);
    const data: DailyTotal = {
      campaignId: String(campaign._id),
      campaign: campaign.slug,
      title: campaign.title,
      day,
      joined,
      count,
      goal: campaign.goal,
      percent: campaign.goal > 0 ? Math.floor((count * 100) / campaign.goal) : 0,
    };
    queued += await enqueueMessage(deps, {
      type: DAILY_TOTAL,
      key: `${DAILY_TOTAL}:${campaign._id}:${day}`,
      timestamp: now,
      data: { ...data },
    });
  }
  return queued;
}
