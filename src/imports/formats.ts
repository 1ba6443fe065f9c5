import { z } from 'zod';
import { normalizeEmail } from '../email/suppression.service.js';
import type { ImportedMember } from '../memberships/member-import.js';
import { MEMBER_STATUSES, type MemberStatus } from '../memberships/membership.model.js';
import { CURRENCIES, INTERVALS, type Plans } from '../memberships/plans.js';

// The files a newsroom brings, recognised by their header row, and each row turned into what we
// store or into the reason it is refused. Header names are exactly what each tool exports:
// - Ghost (Members → Export): id,email,name,note,subscribed_to_emails,complimentary_plan,
//   stripe_customer_id,created_at,deleted_at,labels,tiers
// - our plain format (README, "Importing supporters"): email,name,plan,amount,currency,interval,
//   joined_at,stripe_customer_id,status,labels
// - Mailchimp (Audience → Export audience: subscribed, unsubscribed and cleaned files):
//   "Email Address","First Name","Last Name",…,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,…,
//   LAST_CHANGED,…; unsubscribed adds UNSUB_TIME,…; cleaned adds CLEAN_TIME,…
// - listmonk (Subscribers → Export): uuid,email,name,attributes,status,created_at,updated_at

export type MemberFormat = 'ghost' | 'plain' | 'stripe';
export type SubscriberFormat = 'mailchimp' | 'listmonk';

export function detectMemberFormat(header: string[]): MemberFormat | undefined {
  const has = (...names: string[]) => names.every((n) => header.includes(n));
  if (has('email', 'subscribed_to_emails', 'complimentary_plan', 'stripe_customer_id')) return 'ghost';
  if (has('email', 'joined_at')) return 'plain';
  return undefined;
}

export function detectSubscriberFormat(header: string[]): SubscriberFormat | undefined {
  const has = (...names: string[]) => names.every((n) => header.includes(n));
  if (has('Email Address', 'OPTIN_TIME')) return 'mailchimp';
  if (has('uuid', 'email', 'attributes', 'status')) return 'listmonk';
  return undefined;
}

/** A members file's row: what memberships stores for an imported member (member-import.ts). */
export type MemberRow = ImportedMember;

/** `disabled` (listmonk): off the list, but not an opt-out of all mail, so not suppressed. */
export type SubscriberState = 'confirmed' | 'unsubscribed' | 'cleaned' | 'blocklisted' | 'disabled';

export interface SubscriberRow {
  email: string;
  name?: string;
  state: SubscriberState;
  optinAt?: Date;
  optinIp?: string;
  confirmAt?: Date;
  confirmIp?: string;
  /** When they left (unsubscribed, cleaned, blocklisted). */
  leftAt?: Date;
}

export type Parsed<T> = { row: T } | { rejected: string };

const emailSchema = z.email();
// What a spreadsheet runs as a formula (OWASP's CSV injection list, full-width forms included).
const FORMULA = /^[=+\-@\t\r＝＋－＠]/;

function email(raw: string | undefined): string | { rejected: string } {
  const value = normalizeEmail(raw ?? '');
  if (!value) return { rejected: 'no email address' };
  if (!emailSchema.safeParse(value).success)
    return { rejected: `invalid email address "${value.slice(0, 80)}"` };
  return value;
}

function name(raw: string | undefined): string | undefined | { rejected: string } {
  const value = raw?.trim();
  if (!value) return undefined;
  if (FORMULA.test(value)) return { rejected: 'the name looks like a spreadsheet formula' };
  return value.slice(0, 200);
}

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * A time as the tools write it: ISO 8601, Mailchimp's "2019-03-04 10:11:12" (UTC) or Postgres's
 * "2020-07-07 07:41:51.474716+00" (listmonk); no zone means UTC. Empty: undefined; unreadable: null.
 * Only those shapes, and only days that exist from 1900 to 2199: JavaScript's own reading took
 * "May 20" for 2001, "1" for 2001-01-01, 2019-02-30 for 2 March, and 05/20/2019 in the importing
 * machine's time zone.
 */
export function parseTime(raw: string | undefined): Date | undefined | null {
  const text = raw?.trim() ?? '';
  if (!text) return undefined;
  const match = ISO_TIME.exec(text.replace(' ', 'T'));
  if (!match) return null;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', fraction = '', zone = 'Z'] =
    match as unknown as string[];
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  const exists =
    Number(y) >= 1900 &&
    Number(y) < 2200 &&
    day.getUTCMonth() === Number(mo) - 1 &&
    day.getUTCDate() === Number(d) &&
    Number(h) < 24 &&
    Number(mi) < 60 &&
    Number(sec) < 60;
  if (!exists) return null;
  const offset = zone === 'Z' ? zone : `${zone.slice(0, 3)}:${zone.slice(3).replace(':', '') || '00'}`;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${sec}${fraction.slice(0, 4)}${offset}`);
  return Number.isNaN(date.getTime()) ? null : date;
}

const isRejected = (v: unknown): v is { rejected: string } =>
  typeof v === 'object' && v !== null && 'rejected' in v;

const labelsOf = (raw: string | undefined) =>
  (raw ?? '')
    .split(',')
    .map((l) => l.trim())
    .filter((l) => l && !FORMULA.test(l))
    .slice(0, 20);

export function parseMemberRow(
  format: MemberFormat,
  values: Record<string, string>,
  plans: Plans,
): Parsed<MemberRow> {
  const address = email(values.email);
  if (isRejected(address)) return address;
  const who = name(values.name);
  if (isRejected(who)) return who;
  const customerId = values.stripe_customer_id?.trim() || undefined;
  if (customerId && !/^cus_[A-Za-z0-9]+$/.test(customerId))
    return { rejected: `invalid Stripe customer id "${customerId.slice(0, 40)}"` };
  const joinedAt = parseTime(format === 'ghost' ? values.created_at : values.joined_at);
  if (!joinedAt) return { rejected: joinedAt === null ? 'unreadable join date' : 'no join date' };
  const labels = labelsOf(values.labels);

  if (format === 'ghost') {
    if (values.deleted_at?.trim()) return { rejected: 'deleted in Ghost' };
    const comped = values.complimentary_plan?.trim().toLowerCase() === 'true';
    if (!customerId && !comped)
      return {
        rejected: 'a free member (no Stripe customer, not complimentary): import as newsletter subscribers',
      };
    return { row: { email: address, name: who, joinedAt, customerId, status: 'active', labels } };
  }

  const status = (values.status?.trim().toLowerCase() || 'active') as MemberStatus;
  if (!MEMBER_STATUSES.includes(status)) return { rejected: `unknown status "${status.slice(0, 20)}"` };
  const plan = values.plan?.trim().toLowerCase();
  if (!plan) return { row: { email: address, name: who, joinedAt, customerId, status, labels } };
  const tier = plans.tiers.find((t) => t.id === plan);
  if (!tier && plan !== 'custom') return { rejected: `unknown plan "${plan.slice(0, 40)}"` };
  const currency = values.currency?.trim().toLowerCase() ?? '';
  if (!(CURRENCIES as readonly string[]).includes(currency))
    return { rejected: `unknown currency "${currency.slice(0, 10)}"` };
  const interval = values.interval?.trim().toLowerCase() || 'month';
  if (!(INTERVALS as readonly string[]).includes(interval))
    return { rejected: `unknown interval "${interval.slice(0, 10)}"` };
  const amountText = values.amount?.trim() ?? '';
  let amount: number | undefined;
  if (amountText) {
    // Major units as people write them in a spreadsheet: 5, 5.00, 12.5.
    if (!/^\d{1,7}(\.\d{1,2})?$/.test(amountText))
      return { rejected: `invalid amount "${amountText.slice(0, 20)}"` };
    const [whole, cents = ''] = amountText.split('.');
    amount = Number(whole) * 100 + Number(cents.padEnd(2, '0'));
  } else {
    amount = tier?.prices[currency as 'usd']?.[interval as 'month'];
    if (amount === undefined) return { rejected: 'no amount, and the plan has no price in that currency' };
  }
  return {
    row: {
      email: address,
      name: who,
      joinedAt,
      customerId,
      status,
      labels,
      subscription: { plan, amount, currency, interval },
    },
  };
}

export function parseSubscriberRow(
  format: SubscriberFormat,
  values: Record<string, string>,
): Parsed<SubscriberRow> {
  if (format === 'listmonk') {
    const address = email(values.email);
    if (isRejected(address)) return address;
    const who = name(values.name);
    if (isRejected(who)) return who;
    const createdAt = parseTime(values.created_at) ?? undefined;
    const updatedAt = parseTime(values.updated_at) ?? undefined;
    const status = values.status?.trim().toLowerCase();
    if (status === 'enabled')
      return { row: { email: address, name: who, state: 'confirmed', confirmAt: createdAt } };
    if (status === 'blocklisted')
      return {
        row: { email: address, name: who, state: 'blocklisted', confirmAt: createdAt, leftAt: updatedAt },
      };
    if (status === 'disabled')
      return {
        row: { email: address, name: who, state: 'disabled', confirmAt: createdAt, leftAt: updatedAt },
      };
    return { rejected: `unknown listmonk status "${(status ?? '').slice(0, 20)}"` };
  }
  const address = email(values['Email Address']);
  if (isRejected(address)) return address;
  const full = [values['First Name'], values['Last Name']]
    .map((p) => p?.trim())
    .filter(Boolean)
    .join(' ');
  const who = name(full);
  if (isRejected(who)) return who;
  const optinAt = parseTime(values.OPTIN_TIME);
  const confirmAt = parseTime(values.CONFIRM_TIME);
  if (optinAt === null || confirmAt === null) return { rejected: 'unreadable opt-in or confirmation time' };
  const state: SubscriberState =
    'CLEAN_TIME' in values ? 'cleaned' : 'UNSUB_TIME' in values ? 'unsubscribed' : 'confirmed';
  const leftAt = parseTime(values.CLEAN_TIME ?? values.UNSUB_TIME) ?? undefined;
  return {
    row: {
      email: address,
      name: who,
      state,
      optinAt,
      optinIp: values.OPTIN_IP?.trim() || undefined,
      // Mailchimp leaves CONFIRM_TIME empty for single opt-in imports; OPTIN_TIME is then the consent.
      confirmAt: confirmAt ?? optinAt ?? parseTime(values.LAST_CHANGED) ?? undefined,
      confirmIp: values.CONFIRM_IP?.trim() || undefined,
      leftAt,
    },
  };
}
