import type { Connection, Types } from 'mongoose';
import { z } from 'zod';
import { enqueueEmail } from '../email/outbox.service.js';
import type { Clock } from '../infra/clock.js';
import { type LedgerEntry, ledgerModel, STRIPE_PAYMENT_KINDS } from '../ledger/ledger.model.js';
import { type Member, membershipModels } from '../memberships/membership.model.js';

// The year-end statement a supporter (a donor, for a newsroom that is a charity) keeps for their
// records: what they gave in a calendar year, per currency, summed over the ledger (never over
// member fields), refunds and disputes taken off. One line per supporter and currency; a supporter
// is their member record when the money names one (so an email changed mid-year is one supporter),
// else the email the payment was made with (one-time contributors, gift purchasers).

export const statementQuery = z.object({
  year: z.coerce.number().int().min(2000).max(2100),
});

export const STATEMENT_COLUMNS = [
  'email',
  'name',
  'currency',
  'payments',
  'gross',
  'refunded',
  'net',
  'firstPaymentOn',
  'lastPaymentOn',
] as const;

export interface StatementLine {
  email: string;
  name: string;
  currency: string;
  payments: number;
  gross: number;
  /** Refunds and lost disputes, as a positive amount (a won dispute gives it back). */
  refunded: number;
  net: number;
  firstPaymentOn: string;
  lastPaymentOn: string;
}

export interface SupporterStatement {
  /** `member:<id>` or `email:<address>`: what the email idempotency key is made of. */
  supporter: string;
  email: string;
  name: string;
  locale: string;
  lines: StatementLine[];
}

// What a supporter gave: through Stripe, or an invoice they paid outside it (out of band). A $0
// invoice (a trial, a 100 % promotion code) is no gift of theirs and is left out.
const PAYMENTS = new Set<LedgerEntry['kind']>([...STRIPE_PAYMENT_KINDS, 'out_of_band_payment']);

/**
 * Every supporter's statement for `year` (ledger months are cut in the newsroom's time zone at
 * write time, so the year is too). A report: it scans the year's ledger once, in TypeScript.
 */
export async function supporterStatements(db: Connection, year: number): Promise<SupporterStatement[]> {
  interface Supporter {
    memberId?: Types.ObjectId;
    email: string;
    name?: string;
    lines: Map<string, StatementLine>;
  }
  const supporters = new Map<string, Supporter>();
  const cursor = ledgerModel(db)
    .find({ month: { $gte: `${year}-01`, $lte: `${year}-12` } })
    .sort({ occurredAt: 1 })
    .lean<LedgerEntry[]>()
    .cursor();
  for await (const entry of cursor) {
    if ((!entry.email && !entry.memberId) || entry.kind === 'free_invoice') continue;
    const key = entry.memberId ? `member:${entry.memberId}` : `email:${entry.email}`;
    const supporter: Supporter = supporters.get(key) ?? {
      memberId: entry.memberId,
      email: entry.email ?? '',
      lines: new Map(),
    };
    supporter.name ??= entry.name;
    supporters.set(key, supporter);
    const line = supporter.lines.get(entry.currency) ?? {
      email: '',
      name: '',
      currency: entry.currency.toUpperCase(),
      payments: 0,
      gross: 0,
      refunded: 0,
      net: 0,
      firstPaymentOn: '',
      lastPaymentOn: '',
    };
    supporter.lines.set(entry.currency, line);
    line.net += entry.amount;
    if (PAYMENTS.has(entry.kind)) {
      line.payments += 1;
      line.gross += entry.amount;
      line.firstPaymentOn ||= entry.day;
      line.lastPaymentOn = entry.day;
    } else {
      line.refunded -= entry.amount;
    }
  }

  // Members are named by who they are now (their current address), the rest by the payment's; a
  // member who also gave once (or bought a gift) with the same address is one supporter.
  const { Member } = membershipModels(db);
  const byEmail = new Map<string, SupporterStatement>();
  for (const [key, supporter] of supporters) {
    const member = supporter.memberId ? await Member.findById(supporter.memberId).lean<Member>() : null;
    const email = member?.email ?? supporter.email;
    const name = member?.name ?? supporter.name ?? '';
    const statement = byEmail.get(email) ?? { supporter: key, email, name, locale: 'en', lines: [] };
    if (member)
      Object.assign(statement, { supporter: key, locale: member.locale, name: name || statement.name });
    for (const line of supporter.lines.values()) {
      const same = statement.lines.find((l) => l.currency === line.currency);
      if (!same) {
        statement.lines.push({ ...line });
        continue;
      }
      same.payments += line.payments;
      same.gross += line.gross;
      same.refunded += line.refunded;
      same.net += line.net;
      same.firstPaymentOn = [same.firstPaymentOn, line.firstPaymentOn].filter(Boolean).sort()[0] ?? '';
      same.lastPaymentOn = [same.lastPaymentOn, line.lastPaymentOn].sort().at(-1) ?? '';
    }
    byEmail.set(email, statement);
  }
  const statements: SupporterStatement[] = [];
  for (const statement of byEmail.values()) {
    statement.lines = statement.lines
      .filter((line) => line.payments > 0)
      .map((line) => ({ ...line, email: statement.email, name: statement.name }))
      .sort((a, b) => a.currency.localeCompare(b.currency));
    if (statement.lines.length) statements.push(statement);
  }
  return statements.sort((a, b) => a.email.localeCompare(b.email));
}

/** The statements as CSV lines (STATEMENT_COLUMNS). */
export const statementCsvLines = (statements: SupporterStatement[]) => statements.flatMap((s) => s.lines);

/**
 * One statement email per supporter for the year, on request. Keyed by year and supporter, so a
 * second run (or a run that crashed half-way) sends nobody a second copy.
 */
export async function emailStatements(
  deps: { db: Connection; clock: Clock; charityStatement?: string },
  year: number,
  statements: SupporterStatement[],
): Promise<number> {
  let queued = 0;
  for (const statement of statements) {
    const { created } = await enqueueEmail(deps.db, deps.clock, {
      template: 'supporter-statement',
      to: { email: statement.email, name: statement.name || undefined },
      locale: statement.locale,
      data: {
        name: statement.name || undefined,
        year,
        totals: statement.lines.map((l) => ({ currency: l.currency, payments: l.payments, net: l.net })),
        ...(deps.charityStatement ? { charityStatement: deps.charityStatement } : {}),
      },
      idempotencyKey: `statement:${year}:${statement.supporter}`,
    });
    if (created) queued++;
  }
  return queued;
}
