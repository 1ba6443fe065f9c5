import { DAILY_TOTAL, type WebhookMessage } from './webhook-events.js';

// The Slack preset: an endpoint of kind `slack` is a Slack incoming webhook. It hears milestones
// and the daily totals, and gets Slack's own body, `{"text": …}`, instead of our signed payload
// (Slack checks nothing; the URL is its secret). Delivery, retries and the safe-target guard are
// the same as for every endpoint. The words are all here, in one place, for the message catalogue.

/** What a Slack endpoint may hear. */
export const SLACK_EVENT_TYPES = ['campaign.milestone', DAILY_TOTAL] as const;
export type SlackEventType = (typeof SLACK_EVENT_TYPES)[number];

export interface DailyTotal {
  campaignId: string;
  campaign: string;
  title: string;
  /** The newsroom's calendar day (YYYY-MM-DD, in the campaign's time zone). */
  day: string;
  /** Members counted that day (new members, gifts, one-time supporters). */
  joined: number;
  /** The count at the end of that day. */
  count: number;
  goal: number;
  percent: number;
}

interface Milestone {
  title: string;
  percent: number;
  count: number;
  goal: number;
}

const number = (n: number) => n.toLocaleString('en');
// Slack's mrkdwn treats these three as markup (Slack's "Formatting text" guide).
const escaped = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export const SLACK_TEXT = {
  milestone: (m: Milestone) =>
    `:tada: *${escaped(m.title)}* reached ${m.percent} % of its goal: ${number(m.count)} of ${number(m.goal)} members.`,
  dailyTotal: (d: DailyTotal) =>
    `*${escaped(d.title)}*, ${d.day}: ${d.joined === 1 ? '1 new member' : `${number(d.joined)} new members`}. ` +
    `The drive stands at ${number(d.count)} of ${number(d.goal)} (${d.percent} %).`,
};

/** The body a Slack incoming webhook takes: `{"text": …}`. */
export function slackBodyOf(message: WebhookMessage): string {
  const text =
    message.type === DAILY_TOTAL
      ? SLACK_TEXT.dailyTotal(message.data as unknown as DailyTotal)
      : SLACK_TEXT.milestone(message.data as unknown as Milestone);
  return JSON.stringify({ text });
}
