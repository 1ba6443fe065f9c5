import type { Connection } from 'mongoose';
import { findPayment } from '../ledger/ledger.service.js';
import { findMemberById } from '../memberships/member-keys.js';
import type { LedgerRecorded, MemberJoined } from '../shared/domain-events.js';
import { addMonths, calendarKeys } from '../shared/time.js';
import { appendRow, NO_CAMPAIGN } from './rows.js';

// Members and first-year money by where they came from, kept as the facts happen: a member row
// when a reader joins through checkout, a money row for each payment in the payer's first year
// (a one-time contribution counts in full), and a negative row for what a refund or dispute of
// such a payment takes back. Each row is keyed by the fact it records, so redelivery adds nothing.

export interface FiguresDeps {
  db: Connection;
  timeZone: string;
}

const PAYMENTS = new Set(['subscription_payment', 'one_time_payment', 'out_of_band_payment']);
const REVERSALS = new Set(['refund', 'dispute', 'dispute_reversal', 'refund_failure']);

export async function recordJoin(deps: FiguresDeps, joined: MemberJoined): Promise<void> {
  if (joined.source !== 'checkout') return; // gifts and imports came through no page
  await appendRow(deps.db, joined.campaign ?? NO_CAMPAIGN, calendarKeys(joined.joinedAt, deps.timeZone).day, {
    record: `member:${joined.memberId}`,
    kind: 'member',
    amount: 0,
    attribution: joined.attribution,
    at: joined.joinedAt,
  });
}

/** Whether a payment is first-year money: a one-time contribution, or paid within a year of joining. */
async function firstYear(db: Connection, memberId: string | undefined, paidAt: Date): Promise<boolean> {
  if (!memberId) return true;
  const member = await findMemberById(db, memberId);
  return !!member && paidAt.getTime() < addMonths(member.joinedAt, 12).getTime();
}

export async function recordMoney(deps: FiguresDeps, entry: LedgerRecorded): Promise<void> {
  if (PAYMENTS.has(entry.kind)) {
    if (entry.amount === 0 || !(await firstYear(deps.db, entry.memberId, entry.occurredAt))) return;
    await appendRow(
      deps.db,
      entry.campaign ?? NO_CAMPAIGN,
      calendarKeys(entry.occurredAt, deps.timeZone).day,
      {
        record: `pay:${entry.entryId}`,
        kind: 'money',
        amount: entry.amount,
        currency: entry.currency,
        attribution: entry.attribution,
        at: entry.occurredAt,
      },
    );
    return;
  }
  if (!REVERSALS.has(entry.kind) || !entry.reverses) return;
  // Money back counts against where its payment came from, if that payment counted.
  const payment = await findPayment(deps.db, [entry.reverses]);
  if (!payment || !PAYMENTS.has(payment.kind)) return;
  const memberId = payment.memberId ? String(payment.memberId) : undefined;
  if (!(await firstYear(deps.db, memberId, payment.occurredAt))) return;
  await appendRow(
    deps.db,
    payment.campaign ?? NO_CAMPAIGN,
    calendarKeys(entry.occurredAt, deps.timeZone).day,
    {
      record: `back:${entry.entryId}`,
      kind: 'money',
      amount: entry.amount,
      currency: entry.currency,
      attribution: payment.attribution,
      at: entry.occurredAt,
    },
  );
}
